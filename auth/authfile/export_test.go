package authfile

// SetAfterList sets what a scan runs between listing the directory and
// reading its files, until the returned function restores it.
func SetAfterList(f func()) (restore func()) {
	saved := afterList
	afterList = f
	return func() { afterList = saved }
}
