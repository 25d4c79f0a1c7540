package authfile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultPollInterval is how often [FileStore.Watch] looks at the directory
// when PollInterval is not set.
const DefaultPollInterval = 500 * time.Millisecond

const (
	// maxAuthFileSize bounds what the store reads; credential files are a
	// few kilobytes.
	maxAuthFileSize = 1 << 20

	// racyWindow: a file modified this close to when it was read may be
	// modified again without its size or mtime changing (coarse file-system
	// timestamps), so Watch reads it again until it has been quiet this long.
	racyWindow = 3 * time.Second

	// staleTempAge: temp files this old were left by a crash and are removed
	// when the store opens the directory.
	staleTempAge = 10 * time.Minute

	// tempInfix marks the temp files Save creates: ".<name>.tmp-<random>".
	tempInfix = ".tmp-"

	// maxFileName bounds a credential file's name so that its temp file
	// (a dot, the name, tempInfix and up to ten random digits) fits in
	// the 255 bytes a file name may have on common file systems.
	maxFileName = 255 - len(".") - len(tempInfix) - 10
)

// FileStore is a [Store] over an auth directory in CLIProxyAPI's layout:
// every *.json file directly in the directory is one credential file.
// Subdirectories, dotfiles (including the store's own temp files) and other
// names are ignored, so an existing ~/.cli-proxy-api works unchanged.
//
// Writes are atomic (a temp file in the same directory, 0600, synced, then
// renamed over the target) and serialized by a mutex, so readers never see a
// partial file. Several processes writing the same directory are not
// coordinated beyond that: each rename is atomic, the last one wins.
//
// A FileStore is safe for concurrent use.
type FileStore struct {
	// PollInterval is how often Watch checks the directory for changes.
	// Zero means DefaultPollInterval. Set it before calling Watch.
	PollInterval time.Duration

	dir string

	mu sync.Mutex // serializes Save and Delete; guards written
	// written holds, by file name, the fields of what Save last wrote, so
	// that a later Save of a stale copy does not mistake the store's own
	// write for someone else's edit.
	written map[string]*AuthFile
}

// Interface guard.
var _ Store = (*FileStore)(nil)

// NewFileStore opens the auth directory dir, creating it with mode 0700 when
// it does not exist. An existing directory's mode is left as it is.
func NewFileStore(dir string) (*FileStore, error) {
	if strings.TrimSpace(dir) == "" {
		return nil, errors.New("auth dir: empty path")
	}
	dir = filepath.Clean(dir)
	info, err := os.Stat(dir)
	switch {
	case err == nil:
		if !info.IsDir() {
			return nil, fmt.Errorf("auth dir %q: not a directory", dir)
		}
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("auth dir: %w", err)
		}
		// MkdirAll's mode is reduced by the umask; make it exact.
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, fmt.Errorf("auth dir: %w", err)
		}
	default:
		return nil, fmt.Errorf("auth dir: %w", err)
	}
	s := &FileStore{dir: dir}
	s.removeStaleTemps()
	return s, nil
}

// Dir returns the directory the store reads.
func (s *FileStore) Dir() string { return s.dir }

// List implements [Store].
func (s *FileStore) List(ctx context.Context) ([]*AuthFile, []error, error) {
	entries := make(map[string]*fileEntry)
	if _, err := s.scan(ctx, entries); err != nil {
		return nil, nil, err
	}
	files, errs := collect(entries)
	return files, errs, nil
}

// Save implements [Store]. The file is written indented, unless the file it
// replaces was written on one line (as CLIProxyAPI writes most files). On
// success, and when nothing needed writing, f records the stored version, so
// that the next Save of f again writes only what changed after this one.
func (s *FileStore) Save(ctx context.Context, f *AuthFile) (bool, error) {
	if f == nil {
		return false, errors.New("auth dir: save: nil file")
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err := checkFileName(f.Name); err != nil {
		return false, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	path, err := s.writePath(f.Name)
	if err != nil {
		return false, err
	}
	cur, err := readLimited(path)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("auth file %q: %w", f.Name, err)
	}

	var obj *jsonObject
	switch fromHere := f.store == s && f.storeName == f.Name; {
	case fromHere && !exists:
		return false, fmt.Errorf("auth file %q was removed; not writing it back: %w", f.Name, fs.ErrNotExist)
	case fromHere:
		stored, err := ParseAuthFile(f.Name, cur)
		if err != nil {
			return false, fmt.Errorf("%w; not overwriting it", err)
		}
		if keys := f.conflicts(stored, s.written[f.Name]); len(keys) > 0 {
			return false, fmt.Errorf("auth file %q: %w (%s)", f.Name, ErrAuthFileConflict, strings.Join(keys, ", "))
		}
		obj = f.merged(stored.raw)
		if !f.modified() {
			// Nothing to write back; in particular, do not rewrite an
			// operator's file only to rename its legacy keys.
			s.adopt(f, obj)
			return false, nil
		}
	default:
		obj = f.merged(f.base())
	}

	data := obj.marshal()
	if exists && jsonSemanticEqual(cur, data) {
		s.adopt(f, obj)
		return false, nil
	}
	if !exists || bytes.Contains(bytes.TrimSpace(cur), []byte("\n")) {
		var b bytes.Buffer
		if err := json.Indent(&b, data, "", "  "); err != nil {
			return false, fmt.Errorf("auth file %q: %w", f.Name, err)
		}
		data = b.Bytes()
	}
	data = append(data, '\n')
	if err := writeFileAtomic(path, data); err != nil {
		return false, fmt.Errorf("auth file %q: %w", f.Name, err)
	}
	s.adopt(f, obj)
	if s.written == nil {
		s.written = make(map[string]*AuthFile)
	}
	w := &AuthFile{}
	if err := w.decodeFrom(obj); err == nil {
		s.written[f.Name] = w
	}
	return true, nil
}

// conflicts lists the keys of the fields that f changed since it was read
// and that stored (what is on disk now) changed differently, unless stored
// holds what the store itself last wrote there (ours, when not nil): a
// refresh saved from a copy read before the previous refresh was written
// supersedes it.
func (f *AuthFile) conflicts(stored, ours *AuthFile) []string {
	orig := f.original()
	var keys []string
	for i := range authFields {
		fd := &authFields[i]
		if !fd.same(f, orig) && !fd.same(stored, orig) && !fd.same(stored, f) &&
			(ours == nil || !fd.same(stored, ours)) {
			keys = append(keys, fd.key)
		}
	}
	return keys
}

// modified reports whether f has a field changed since it was read.
func (f *AuthFile) modified() bool {
	orig := f.original()
	for i := range authFields {
		if !authFields[i].same(f, orig) {
			return true
		}
	}
	return false
}

// adopt records in f that obj, built from f's fields, is what the store holds.
func (s *FileStore) adopt(f *AuthFile, obj *jsonObject) {
	f.raw = obj
	f.orig = f.snapshot()
	f.store = s
	f.storeName = f.Name
}

// Has implements [Store]: a symbolic link counts as the file, whether or
// not its target exists.
func (s *FileStore) Has(ctx context.Context, name string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err := checkFileName(name); err != nil {
		return false, err
	}
	_, err := os.Lstat(filepath.Join(s.dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Delete implements [Store].
func (s *FileStore) Delete(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkFileName(name); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := os.Remove(filepath.Join(s.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("auth file %q: %w", name, err)
	}
	delete(s.written, name)
	syncDir(s.dir)
	return nil
}

// Watch implements [Store] by polling: every PollInterval it lists the
// directory and compares each file's identity (device and inode), size,
// mode and mtime with what it last read, reading again only files that
// differ or were modified too recently to trust their mtime. A change of
// content is a change of its SHA-256. When the directory cannot be read,
// the last known files stay and the error is passed to fn first in errs.
func (s *FileStore) Watch(ctx context.Context, fn func(files []*AuthFile, errs []error)) error {
	interval := s.PollInterval
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	entries := make(map[string]*fileEntry)
	if _, err := s.scan(ctx, entries); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	files, errs := collect(entries)
	fn(files, errs)

	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	var dirErr error
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		changed, err := s.scan(ctx, entries)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case err != nil && (dirErr == nil || dirErr.Error() != err.Error()):
			dirErr, changed = err, true
		case err == nil && dirErr != nil:
			dirErr, changed = nil, true
		}
		if !changed {
			continue
		}
		files, errs := collect(entries)
		if dirErr != nil {
			errs = append([]error{dirErr}, errs...)
		}
		fn(files, errs)
	}
}

// fileEntry is what the store last read of one file.
type fileEntry struct {
	info   fs.FileInfo // of the file as opened
	readAt time.Time
	sum    [sha256.Size]byte
	file   *AuthFile // nil when err is set
	err    error
}

// scan brings entries up to date with the directory and reports whether any
// file was added, removed or changed. It fails, leaving entries as they
// were, only when the directory cannot be listed, or went away while its
// files were read: a listed file that is gone then is not a removed one.
func (s *FileStore) scan(ctx context.Context, entries map[string]*fileEntry) (bool, error) {
	des, err := os.ReadDir(s.dir)
	if err != nil {
		return false, fmt.Errorf("auth dir: %w", err)
	}
	afterList()
	changed, vanished := false, false
	seen := make(map[string]bool, len(des))
	for _, de := range des {
		if err := ctx.Err(); err != nil {
			return changed, err
		}
		name := de.Name()
		if de.IsDir() || !isAuthFileName(name) {
			continue
		}
		ent, ok := s.refresh(name, entries[name])
		if !ok {
			vanished = true
			continue
		}
		seen[name] = true
		if ent != entries[name] {
			entries[name] = ent
			changed = true
		}
	}
	if vanished {
		if _, err := os.Stat(s.dir); err != nil {
			return changed, fmt.Errorf("auth dir: %w", err)
		}
	}
	for name := range entries {
		if !seen[name] {
			delete(entries, name)
			changed = true
		}
	}
	return changed, nil
}

// afterList runs between a scan's listing of the directory and its reads
// of the files; tests move the directory there.
var afterList = func() {}

// refresh returns the entry for the file called name: old itself when the
// file did not change, a new entry when it did, ok=false when there is no
// such regular file (any more).
func (s *FileStore) refresh(name string, old *fileEntry) (ent *fileEntry, ok bool) {
	path := filepath.Join(s.dir, name)
	info, err := os.Stat(path) // follows symlinks
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, false
	case err != nil:
		ent = &fileEntry{err: fileError(name, err)}
	case !info.Mode().IsRegular():
		return nil, false
	case old != nil && old.err == nil && old.unchanged(info):
		return old, true
	default:
		if ent, ok = s.read(name, path); !ok {
			return nil, false
		}
	}
	if old != nil && old.sum == ent.sum && errorText(old.err) == errorText(ent.err) {
		// Touched, not changed: keep the parsed file (and its pointer).
		old.info, old.readAt = ent.info, ent.readAt
		return old, true
	}
	return ent, true
}

// unchanged reports whether info describes the file e was read from, in a
// state that cannot hide a later write.
func (e *fileEntry) unchanged(info fs.FileInfo) bool {
	return e.info != nil &&
		os.SameFile(e.info, info) &&
		e.info.Size() == info.Size() &&
		e.info.Mode() == info.Mode() &&
		e.info.ModTime().Equal(info.ModTime()) &&
		e.readAt.Sub(info.ModTime()) >= racyWindow
}

// read reads and parses one file; ok is false when it is not (any more) a
// regular file.
func (s *FileStore) read(name, path string) (*fileEntry, bool) {
	ent := &fileEntry{readAt: time.Now()}
	fh, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false
	}
	if err != nil {
		ent.err = fileError(name, err)
		return ent, true
	}
	defer fh.Close()
	info, err := fh.Stat()
	if err != nil {
		ent.err = fileError(name, err)
		return ent, true
	}
	if !info.Mode().IsRegular() {
		return nil, false
	}
	// Make os.SameFile compare this file later, not whatever the path
	// names then (Windows loads file IDs lazily).
	os.SameFile(info, info)
	ent.info = info
	data, err := io.ReadAll(io.LimitReader(fh, maxAuthFileSize+1))
	if err != nil {
		ent.err = fileError(name, err)
		return ent, true
	}
	ent.sum = sha256.Sum256(data)
	switch {
	case len(data) > maxAuthFileSize:
		ent.err = fmt.Errorf("auth file %q: larger than %d bytes", name, maxAuthFileSize)
	case len(bytes.TrimSpace(data)) == 0:
		ent.err = fmt.Errorf("auth file %q: empty", name)
	default:
		f, err := ParseAuthFile(name, data)
		if err != nil {
			ent.err = err
			break
		}
		f.store, f.storeName = s, name
		ent.file = f
	}
	return ent, true
}

// collect returns the parsed files and the per-file errors, ordered by name.
func collect(entries map[string]*fileEntry) ([]*AuthFile, []error) {
	names := make([]string, 0, len(entries))
	for name := range entries {
		names = append(names, name)
	}
	slices.Sort(names)
	var files []*AuthFile
	var errs []error
	for _, name := range names {
		if e := entries[name]; e.err != nil {
			errs = append(errs, e.err)
		} else {
			files = append(files, e.file)
		}
	}
	return files, errs
}

// fileError describes an I/O error on a file by its name within the store.
func fileError(name string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("auth file %q: %s: %w", name, pe.Op, pe.Err)
	}
	return fmt.Errorf("auth file %q: %w", name, err)
}

func errorText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// isAuthFileName reports whether a directory entry is a credential file.
func isAuthFileName(name string) bool {
	return !strings.HasPrefix(name, ".") &&
		len(name) > len(".json") &&
		strings.EqualFold(name[len(name)-len(".json"):], ".json")
}

// CheckFileName reports whether name can be a credential file of a
// [FileStore]: a name ending in .json, directly in the directory (no path
// separator, no ".."), not a dotfile, at most 239 bytes long (its temp file
// needs the rest of the 255 a file system allows).
func CheckFileName(name string) error { return checkFileName(name) }

// checkFileName rejects a name that is not a credential file directly in
// the directory, or too long to be written there.
func checkFileName(name string) error {
	if len(name) > maxFileName {
		return fmt.Errorf("auth dir: invalid file name: %d bytes long, at most %d", len(name), maxFileName)
	}
	if name == "" ||
		strings.ContainsAny(name, `/\`+"\x00") ||
		strings.Contains(name, "..") ||
		filepath.Base(name) != name ||
		filepath.IsAbs(name) ||
		filepath.VolumeName(name) != "" ||
		!isAuthFileName(name) {
		return fmt.Errorf("auth dir: invalid file name %q (want a name ending in .json, not starting with a dot, without path separators or \"..\")", name)
	}
	return nil
}

// writePath is where a file called name is written: its own path, or the
// target of a symlink there (so an operator's symlink stays a symlink).
func (s *FileStore) writePath(name string) (string, error) {
	path := filepath.Join(s.dir, name)
	info, err := os.Lstat(path)
	if err != nil || info.Mode()&fs.ModeSymlink == 0 {
		return path, nil
	}
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		// the error names the target's path: keep it out
		return "", fmt.Errorf("auth file %q: %w", name, ErrUnresolvedLink)
	}
	return target, nil
}

// readLimited reads a file of at most maxAuthFileSize bytes.
func readLimited(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxAuthFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxAuthFileSize {
		return nil, fmt.Errorf("larger than %d bytes", maxAuthFileSize)
	}
	return data, nil
}

// writeFileAtomic replaces path with data: it writes a 0600 temp file in the
// same directory, syncs it, renames it over path and syncs the directory, so
// a reader sees the old file or the new one, never a part.
func writeFileAtomic(path string, data []byte) (err error) {
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+name+tempInfix+"*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmpName)
		}
	}()
	if err = tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmpName, path); err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// syncDir makes a rename or removal in dir durable where the platform
// allows it (best effort: Windows cannot sync a directory).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// removeStaleTemps deletes temp files a crashed Save left behind. Recent
// ones may belong to a Save in progress in another process and are kept.
func (s *FileStore) removeStaleTemps() {
	des, err := os.ReadDir(s.dir)
	if err != nil {
		return
	}
	for _, de := range des {
		name := de.Name()
		if !de.Type().IsRegular() || !strings.HasPrefix(name, ".") || !strings.Contains(name, ".json"+tempInfix) {
			continue
		}
		if info, err := de.Info(); err == nil && time.Since(info.ModTime()) > staleTempAge {
			_ = os.Remove(filepath.Join(s.dir, name))
		}
	}
}

// jsonSemanticEqual reports whether a and b hold the same JSON value.
func jsonSemanticEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
