//go:build linux

package executor

import (
	"errors"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// unnamedUnsupported holds the spool directories whose file system has no
// unnamed files (O_TMPFILE), so they are not asked again.
var unnamedUnsupported sync.Map

// createSpool opens a new spool file in dir (the system's temporary
// directory when ""). On Linux it is an unnamed file (O_TMPFILE): no other
// process can open it by name, creating it touches no directory, and it is
// gone with its last descriptor, even when the gateway is killed. named is
// false then; a file system without unnamed files gets a named 0600 file,
// which the caller removes.
func createSpool(dir string) (f *os.File, named bool, err error) {
	if dir == "" {
		dir = os.TempDir()
	}
	if _, no := unnamedUnsupported.Load(dir); !no {
		fd, err := unix.Open(dir, unix.O_RDWR|unix.O_TMPFILE|unix.O_CLOEXEC, 0o600)
		if err == nil {
			return os.NewFile(uintptr(fd), filepath.Join(dir, "(unnamed spool file)")), false, nil
		}
		if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EISDIR) {
			return nil, false, &os.PathError{Op: "open", Path: dir, Err: err}
		}
		unnamedUnsupported.Store(dir, true)
	}
	f, err = os.CreateTemp(dir, spoolPattern)
	return f, true, err
}
