//go:build unix

package executor

import (
	"os"
	"syscall"
)

// mapFile maps the first size bytes of f read-only, so a spooled body can
// be inspected like one in memory without being read into the heap: the
// kernel pages in what inspection touches, and gives the pages back when
// they are unmapped.
func mapFile(f *os.File, size int64) ([]byte, func()) {
	b, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil
	}
	return b, func() { _ = syscall.Munmap(b) }
}
