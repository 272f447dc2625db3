// Package oplog writes the log of one operation, a backup or a restore: the
// file uploaded next to the backup (<backup>-logs.gz, restore-<name>-logs.gz)
// that `ark backup logs` and `ark restore logs` print.
//
// The log is JSON lines written by one log/slog JSONHandler, with the same
// keys for both operations:
//
//	time       RFC 3339 UTC, from the injected clock
//	level      DEBUG, INFO, WARN or ERROR (slog's names)
//	msg        what happened
//	backup     the backup's name (a backup's log), or
//	restore    the restore's name (a restore's log)
//	resource   for a record about a resource or an item: its group-resource ("deployments.apps")
//	namespace  for an item: its namespace, "" if cluster-scoped
//	name       for an item: its name
//	reason     why an item or resource was skipped, if said
//	error      the error, if any
//
// plus keys of their own for some records ("items", "fields", ...). Each
// record also goes to the context's klog logger: errors as errors, warnings
// at V(1), other records at V(2), item records at V(3), debug at V(4).
package oplog

import (
	"context"
	"io"
	"log/slog"
	"sync"

	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// Keys of the records (see the package comment).
const (
	KeyResource  = "resource"
	KeyNamespace = "namespace"
	KeyName      = "name"
	KeyReason    = "reason"
	KeyError     = "error"
)

// Kinds of operation: the key naming the operation in every record.
const (
	Backup  = "backup"
	Restore = "restore"
)

// Log is the log of one operation. It is safe for concurrent use; a nil *Log
// logs nothing.
type Log struct {
	s *slog.Logger
	k klog.Logger
	w *firstErrWriter
}

// New returns the log of the operation kind (Backup, Restore) named name,
// written to w (nil: the klog logger only), with times from clk.
func New(ctx context.Context, w io.Writer, kind, name string, clk clock.PassiveClock) *Log {
	if w == nil {
		w = io.Discard
	}
	fw := &firstErrWriter{w: w}
	h := slog.NewJSONHandler(fw, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Time(slog.TimeKey, clk.Now().UTC())
			}
			return a
		},
	})
	return &Log{
		s: slog.New(h).With(kind, name),
		k: klog.FromContext(ctx).WithValues(kind, name),
		w: fw,
	}
}

// Err is the first error writing the log; from then on nothing more was written.
func (l *Log) Err() error {
	if l == nil {
		return nil
	}
	return l.w.error()
}

func (l *Log) log(level slog.Level, verbosity int, msg string, kv ...any) {
	if l == nil {
		return
	}
	l.s.Log(context.Background(), level, msg, kv...)
	switch {
	case level >= slog.LevelError:
		l.k.Error(nil, msg, kv...)
	case level >= slog.LevelWarn:
		l.k.V(1).Info(msg, kv...)
	default:
		l.k.V(verbosity).Info(msg, kv...)
	}
}

// Log logs a record at level; kv are key-value pairs.
func (l *Log) Log(level slog.Level, msg string, kv ...any) {
	verbosity := 2
	if level < slog.LevelInfo {
		verbosity = 4
	}
	l.log(level, verbosity, msg, kv...)
}

// Debug logs a record at DEBUG.
func (l *Log) Debug(msg string, kv ...any) { l.log(slog.LevelDebug, 4, msg, kv...) }

// Info logs a record at INFO.
func (l *Log) Info(msg string, kv ...any) { l.log(slog.LevelInfo, 2, msg, kv...) }

// Warn logs a record at WARN.
func (l *Log) Warn(msg string, kv ...any) { l.log(slog.LevelWarn, 1, msg, kv...) }

// Error logs a record at ERROR.
func (l *Log) Error(msg string, kv ...any) { l.log(slog.LevelError, 0, msg, kv...) }

// Item logs a record about one item: resource (group-resource), namespace
// ("" if cluster-scoped) and name, then kv.
func (l *Log) Item(level slog.Level, msg, resource, namespace, name string, kv ...any) {
	all := append([]any{KeyResource, resource, KeyNamespace, namespace, KeyName, name}, kv...)
	l.log(level, 3, msg, all...)
}

// firstErrWriter remembers the first write error and then writes nothing more,
// so that a log cut short is never patched with later lines.
type firstErrWriter struct {
	mu  sync.Mutex
	w   io.Writer
	err error
}

func (f *firstErrWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return 0, f.err
	}
	n, err := f.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	f.err = err
	return n, err
}

func (f *firstErrWriter) error() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}
