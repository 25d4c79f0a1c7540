package reqlog

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// The defaults of Options.
const (
	DefaultMaxFiles = 1000
	DefaultMaxBytes = 100 << 20
	DefaultMaxBody  = 1 << 20
)

// Options bound a Store.
type Options struct {
	// MaxFiles is how many files the directory keeps. Default:
	// DefaultMaxFiles.
	MaxFiles int
	// MaxBytes is the total size the directory's files may take.
	// Default: DefaultMaxBytes.
	MaxBytes int64
	// MaxBody is how much of a request or response body one file keeps.
	// Default: DefaultMaxBody.
	MaxBody int64
}

func (o Options) withDefaults() Options {
	if o.MaxFiles <= 0 {
		o.MaxFiles = DefaultMaxFiles
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	return o
}

// fileName matches the files a Store writes, and only those: a store never
// deletes a file it did not write.
var fileName = regexp.MustCompile(`^\d{8}T\d{6}\.\d{9}Z-[0-9a-f]{8}\.json$`)

type file struct {
	name string
	size int64
}

// Store writes records as files into one directory and keeps the
// directory within its limits.
type Store struct {
	dir string

	mu    sync.Mutex
	opts  Options
	files []file // oldest first
	total int64
}

// Open returns a store writing into dir, creating it (0700) if needed. The
// files a store wrote before are counted against the limits.
func Open(dir string, opts Options) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("opening request log directory: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("opening request log directory: %w", err)
	}
	s := &Store{dir: dir, opts: opts.withDefaults()}
	for _, e := range entries {
		if !e.Type().IsRegular() || !fileName.MatchString(e.Name()) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		s.files = append(s.files, file{e.Name(), info.Size()})
		s.total += info.Size()
	}
	// names start with their UTC time, so name order is age order
	slices.SortFunc(s.files, func(a, b file) int { return strings.Compare(a.name, b.name) })
	s.mu.Lock()
	s.evictLocked("")
	s.mu.Unlock()
	return s, nil
}

// Dir is the directory the store writes into.
func (s *Store) Dir() string { return s.dir }

// SetOptions changes the limits (a config reload); the directory is
// brought within them at once.
func (s *Store) SetOptions(opts Options) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts = opts.withDefaults()
	s.evictLocked("")
}

// Write redacts rec, writes it as a new file (0600) and deletes the oldest
// files past the limits. It returns the file's path.
func (s *Store) Write(rec *Record) (string, error) {
	s.mu.Lock()
	maxBody := s.opts.MaxBody
	s.mu.Unlock()
	data, err := json.MarshalIndent(rec.document(maxBody), "", "  ")
	if err != nil {
		return "", fmt.Errorf("encoding request log: %w", err)
	}
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	name := rec.Time.UTC().Format("20060102T150405.000000000Z") + "-" + hex.EncodeToString(suffix[:]) + ".json"
	path := filepath.Join(s.dir, name)
	if err := writeFile(path, data); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, _ := slices.BinarySearchFunc(s.files, name, func(f file, n string) int { return strings.Compare(f.name, n) })
	s.files = slices.Insert(s.files, i, file{name, int64(len(data))})
	s.total += int64(len(data))
	s.evictLocked(name)
	return path, nil
}

// writeFile writes path whole or not at all: a reader never sees half a
// record, and a name collision never overwrites another record.
func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("writing request log: %w", err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if _, serr := os.Lstat(path); serr == nil {
			err = os.ErrExist
		} else {
			err = os.Rename(tmp, path)
		}
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("writing request log: %w", err)
	}
	return nil
}

// evictLocked deletes the oldest files until the directory is within its
// limits, sparing keep (the file just written): the newest record stays
// even when it alone is over the byte cap.
func (s *Store) evictLocked(keep string) {
	for len(s.files) > 0 && (len(s.files) > s.opts.MaxFiles || s.total > s.opts.MaxBytes) {
		victim := 0
		if s.files[0].name == keep {
			if len(s.files) == 1 {
				return
			}
			victim = 1
		}
		f := s.files[victim]
		if err := os.Remove(filepath.Join(s.dir, f.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			// leave it counted: a file we cannot delete still takes room
			// and trying again on every write would be futile; stop here
			return
		}
		s.files = slices.Delete(s.files, victim, victim+1)
		s.total -= f.size
	}
}

// document is the JSON form of a record, redacted and bounded.
type document struct {
	Time          time.Time           `json:"time"`
	Method        string              `json:"method"`
	Path          string              `json:"path"`
	Query         string              `json:"query,omitempty"`
	Client        string              `json:"client,omitempty"`
	Family        string              `json:"family,omitempty"`
	Model         string              `json:"model,omitempty"`
	Session       string              `json:"session,omitempty"`
	Turn          int                 `json:"websocket_turn,omitempty"`
	Status        int                 `json:"status"`
	Error         string              `json:"error,omitempty"`
	LatencyMS     float64             `json:"latency_ms"`
	FirstByteMS   float64             `json:"first_byte_ms,omitempty"`
	Attempts      []attemptDoc        `json:"attempts"`
	RequestHeader map[string][]string `json:"request_headers,omitempty"`
	RequestBody   *bodyDoc            `json:"request_body,omitempty"`
	ResponseHdr   map[string][]string `json:"response_headers,omitempty"`
	ResponseBody  *bodyDoc            `json:"response_body,omitempty"`
}

type attemptDoc struct {
	Credential  string    `json:"credential"`
	Provider    string    `json:"provider"`
	Status      int       `json:"status"`
	Error       string    `json:"error,omitempty"`
	Start       time.Time `json:"start"`
	FirstByteMS float64   `json:"first_byte_ms,omitempty"`
	DurationMS  float64   `json:"duration_ms"`
	Body        *bodyDoc  `json:"body,omitempty"`
}

// bodyDoc is a captured body: JSON inline when the whole body is JSON,
// else text (or base64 for binary), with its full size.
type bodyDoc struct {
	Size      int             `json:"size"`
	Truncated bool            `json:"truncated,omitempty"`
	JSON      json.RawMessage `json:"json,omitempty"`
	Text      string          `json:"text,omitempty"`
	Base64    []byte          `json:"base64,omitempty"`
}

func (r *Record) document(maxBody int64) document {
	d := document{
		Time:          r.Time.UTC(),
		Method:        r.Method,
		Path:          ScrubString(r.Path, r.Secrets),
		Query:         RedactQuery(r.RawQuery, r.Secrets),
		Client:        r.Client,
		Family:        r.Family,
		Model:         ScrubString(r.Model, r.Secrets),
		Session:       ScrubString(r.Session, r.Secrets),
		Turn:          r.Turn,
		Status:        r.Status,
		Error:         ScrubString(r.Error, r.Secrets),
		LatencyMS:     ms(r.Latency),
		FirstByteMS:   ms(r.FirstByte),
		Attempts:      make([]attemptDoc, 0, len(r.Attempts)),
		RequestHeader: RedactHeader(r.Header, r.Secrets),
		RequestBody:   captureBody(r.RequestBody, maxBody, false, r.Secrets),
		ResponseHdr:   RedactHeader(r.ResponseHeader, r.Secrets),
		ResponseBody:  captureBody(r.ResponseBody, maxBody, r.ResponseTruncated, r.Secrets),
	}
	for _, a := range r.Attempts {
		d.Attempts = append(d.Attempts, attemptDoc{
			Credential:  a.Credential,
			Provider:    a.Provider,
			Status:      a.Status,
			Error:       ScrubString(a.Error, r.Secrets),
			Start:       a.Start.UTC(),
			FirstByteMS: ms(a.FirstByte),
			DurationMS:  ms(a.Duration),
			Body:        captureBody(a.Body, maxBody, false, r.Secrets),
		})
	}
	return d
}

// captureBody keeps the first max bytes of b with every secret scrubbed.
// Secrets are scrubbed over a window a little longer than what is kept, so
// one cut at the boundary cannot leave part of it behind.
func captureBody(b []byte, limit int64, truncated bool, secrets []string) *bodyDoc {
	if len(b) == 0 {
		return nil
	}
	longest := 0
	for _, s := range secrets {
		longest = max(longest, len(s))
	}
	d := &bodyDoc{Size: len(b), Truncated: truncated}
	window := b
	if int64(len(window)) > limit+int64(longest) {
		window = window[:limit+int64(longest)]
	}
	kept := Scrub(window, secrets)
	if int64(len(kept)) > limit {
		kept, d.Truncated = kept[:limit], true
	} else if len(window) < len(b) {
		d.Truncated = true
	}
	if d.Truncated {
		// a cut inside a UTF-8 sequence would turn a text body into base64
		for i := 0; i < utf8.UTFMax && len(kept) > 0 && !utf8.Valid(kept); i++ {
			kept = kept[:len(kept)-1]
		}
	}
	switch {
	case !d.Truncated && json.Valid(kept):
		d.JSON = compactOr(kept)
	case utf8.Valid(kept):
		d.Text = string(kept)
	default:
		d.Base64 = kept
	}
	return d
}

// compactOr compacts a JSON body (an SSE or pretty body reads badly
// indented twice); on failure it keeps b.
func compactOr(b []byte) json.RawMessage {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return b
	}
	return buf.Bytes()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
