package restore

import (
	"context"
	"io"
	"log/slog"

	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// restoreLog writes the restore's log: JSON lines to the writer that is
// uploaded as restore-<name>-logs.gz (keys time, level, msg, restore, and
// resource, namespace, name for an item), and the same records to the
// context's klog logger (warnings at V(1), item records at V(3)).
type restoreLog struct {
	s *slog.Logger
	k klog.Logger
}

func newRestoreLog(ctx context.Context, w io.Writer, restoreName string, clk clock.PassiveClock) *restoreLog {
	if w == nil {
		w = io.Discard
	}
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Time(slog.TimeKey, clk.Now().UTC())
			}
			return a
		},
	})
	return &restoreLog{
		s: slog.New(h).With("restore", restoreName),
		k: klog.FromContext(ctx).WithValues("restore", restoreName),
	}
}

func (l *restoreLog) log(level slog.Level, verbosity int, msg string, kv ...any) {
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

func (l *restoreLog) info(msg string, kv ...any)  { l.log(slog.LevelInfo, 2, msg, kv...) }
func (l *restoreLog) debug(msg string, kv ...any) { l.log(slog.LevelDebug, 4, msg, kv...) }
func (l *restoreLog) warn(msg string, kv ...any)  { l.log(slog.LevelWarn, 1, msg, kv...) }
func (l *restoreLog) error(msg string, kv ...any) { l.log(slog.LevelError, 0, msg, kv...) }

// item logs a record about one item.
func (l *restoreLog) item(level slog.Level, msg string, ref ItemRef, kv ...any) {
	all := append([]any{"resource", ref.Resource, "namespace", ref.Namespace, "name", ref.Name}, kv...)
	l.log(level, 3, msg, all...)
}
