//go:build !unix

package executor

import "errors"

// without mmap the big buffers stay on the heap (bodyArena.get returns nil)
func mapAnon(int) ([]byte, error) { return nil, errors.New("no anonymous mappings") }

func unmapAnon([]byte) {}
