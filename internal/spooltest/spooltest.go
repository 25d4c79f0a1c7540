// Package spooltest finds the request body spool files a gateway in this
// process holds, named or not, for tests.
package spooltest

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Files lists the spool files of dir this process has open (on Linux,
// where they have no name, each as its /proc/self/fd link) and any named
// ones in dir; each path can be given to os.Stat.
func Files(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "cliproxy-body-*"))
	if err != nil || runtime.GOOS != "linux" {
		return files, err
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	for _, fd := range fds {
		link := filepath.Join("/proc/self/fd", fd.Name())
		target, err := os.Readlink(link)
		// an unnamed file reads as "<dir>/#<inode> (deleted)"
		if err == nil && strings.HasPrefix(target, dir+"/#") && strings.HasSuffix(target, " (deleted)") {
			files = append(files, link)
		}
	}
	return files, nil
}
