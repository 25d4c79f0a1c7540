//go:build !linux

package executor

import "os"

// createSpool opens a new named 0600 spool file in dir (the system's
// temporary directory when ""), which the caller removes.
func createSpool(dir string) (*os.File, bool, error) {
	f, err := os.CreateTemp(dir, spoolPattern)
	return f, true, err
}
