package authfile

import (
	"context"
	"errors"
)

// Store holds credential files. [FileStore], an auth directory, is the first
// implementation; others (a database, a secret manager) can keep the same
// contract. Implementations are safe for concurrent use.
type Store interface {
	// List returns every parseable file, ordered by name, plus one error
	// per unparseable file (naming it, never quoting a secret). The last
	// result is an error only when the store itself cannot be read.
	List(ctx context.Context) ([]*AuthFile, []error, error)

	// Save writes f under f.Name (atomically for the file store) and
	// reports whether anything changed: false when the stored JSON is
	// semantically equal to what would be written.
	//
	// When f came from this store (List, Watch or an earlier Save), Save
	// writes the fields the caller changed over what is stored now, so
	// an operator's concurrent edit of other keys survives. It fails with
	// an error matching [ErrAuthFileConflict] when the stored file changed
	// one of those same fields in the meantime (e.g. the file was replaced
	// by another account's), and with one matching [io/fs.ErrNotExist] when
	// the file was removed: a removed credential is not brought back.
	Save(ctx context.Context, f *AuthFile) (changed bool, err error)

	// Delete removes the file called name. Deleting a file that does not
	// exist is not an error.
	Delete(ctx context.Context, name string) error

	// Has reports whether a file called name is stored, parseable or not.
	Has(ctx context.Context, name string) (bool, error)

	// Watch calls fn with the full current list (and per-file errors) once
	// at the start and then whenever the set or content of the files
	// changes, until ctx ends; it then returns nil. Additions, edits,
	// renames over a file and removals are noticed within 2 s. Calls to fn
	// are sequential; a file that did not change is passed as the same
	// pointer as before.
	Watch(ctx context.Context, fn func(files []*AuthFile, errs []error)) error
}

// ErrAuthFileConflict is returned (wrapped) by Save when the stored file
// changed a field the caller also changed, since the caller read it.
var ErrAuthFileConflict = errors.New("auth file changed in the store since it was read")

// ErrUnresolvedLink is the error of a write to an auth file that is a
// symbolic link whose target does not exist (or loops). The error does not
// name the target: it is the operator's layout, not the caller's business.
var ErrUnresolvedLink = errors.New("symbolic link whose target does not exist")
