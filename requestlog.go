package cliproxy

import (
	"fmt"
	"path/filepath"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-cliproxy/cliproxy/outcome"
	"github.com/caddy-cliproxy/cliproxy/reqlog"
)

// The defaults of the request log options.
const (
	DefaultRequestLog         = "errors"
	DefaultRequestLogMaxFiles = reqlog.DefaultMaxFiles
	DefaultRequestLogMaxBytes = reqlog.DefaultMaxBytes
	DefaultRequestLogMaxBody  = reqlog.DefaultMaxBody
)

// requestLogStores holds one store per directory, shared by the handlers
// that write into it and across reloads, so the caps hold for the
// directory as a whole.
var requestLogStores = caddy.NewUsagePool()

type requestLogStore struct{ *reqlog.Store }

func (requestLogStore) Destruct() error { return nil }

// defaultRequestLogDir is where request logs go without request_log_dir.
func defaultRequestLogDir() string {
	return filepath.Join(caddy.AppDataDir(), "cliproxy", "request_logs")
}

// requestLogger is the executor's request log: the mode, and the store
// files go to.
type requestLogger struct {
	mode    reqlog.Mode
	store   *reqlog.Store
	maxBody int
	logger  *zap.Logger
}

// openRequestLog sets up the handler's request log; nil when it is off.
func (h *Handler) openRequestLog(repl *caddy.Replacer) (*requestLogger, error) {
	mode, err := reqlog.ParseMode(h.RequestLog)
	if err != nil {
		return nil, err
	}
	if mode == reqlog.Off {
		return nil, nil
	}
	dir := defaultRequestLogDir()
	if h.RequestLogDir != "" {
		dir = repl.ReplaceKnown(h.RequestLogDir, "")
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, fmt.Errorf("resolving request_log_dir: %w", err)
	}
	opts := reqlog.Options{MaxFiles: h.RequestLogMaxFiles, MaxBytes: h.RequestLogMaxBytes, MaxBody: h.RequestLogMaxBody}
	val, loaded, err := requestLogStores.LoadOrNew(dir, func() (caddy.Destructor, error) {
		s, err := reqlog.Open(dir, opts)
		if err != nil {
			return nil, err
		}
		return requestLogStore{s}, nil
	})
	if err != nil && h.RequestLogDir == "" {
		// the default is a convenience: a data directory that cannot be
		// written must not keep the gateway from starting
		h.logger.Warn("request log disabled: its default directory cannot be used; set request_log_dir or request_log off",
			zap.String("dir", dir), zap.Error(err))
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	store := val.(requestLogStore).Store
	if loaded {
		store.SetOptions(opts) // a reload may have changed the caps
	}
	h.requestLogDir = dir
	maxBody := h.RequestLogMaxBody
	if maxBody <= 0 {
		maxBody = DefaultRequestLogMaxBody
	}
	return &requestLogger{mode: mode, store: store, maxBody: int(maxBody), logger: h.logger}, nil
}

// Wants implements outcome.Capturer.
func (l *requestLogger) Wants(status int) bool { return l.mode.Wants(status) }

// CaptureLimit implements outcome.Capturer.
func (l *requestLogger) CaptureLimit() int { return l.maxBody }

// Request implements outcome.Recorder: it writes the request's record,
// when the executor captured one.
func (l *requestLogger) Request(r *outcome.Request) {
	if r.Log == nil {
		return
	}
	if _, err := l.store.Write(r.Log); err != nil {
		l.logger.Error("writing request log", zap.Error(err))
	}
}

// Attempt implements outcome.Recorder; the record holds the attempts.
func (l *requestLogger) Attempt(outcome.Attempt) {}

// Failure implements outcome.Recorder; the record holds the failures.
func (l *requestLogger) Failure(outcome.Failure) {}

// Interface guard
var _ outcome.Capturer = (*requestLogger)(nil)
