package server

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"

	"k8s.io/klog/v2"

	"github.com/heptio/ark/pkg/redact"
)

// logLevels maps --log-level to a slog level. Debug shows the V(1)..V(4)
// lines of ark and client-go (logr's V(n) is slog level -n).
var logLevels = map[string]slog.Level{
	"debug":   slog.Level(-4),
	"info":    slog.LevelInfo,
	"warning": slog.LevelWarn,
	"error":   slog.LevelError,
}

// configureLogging routes klog (ark's contextual loggers and client-go's) to
// a slog handler of the given format (text or json) and level, writing to w
// through redact.Writer: whatever a library logs, no URL query string (a SAS
// or pre-signed signature) nor credential-named value reaches the log.
func configureLogging(level, format string, w io.Writer) error {
	w = redact.Writer(w)
	lvl, ok := logLevels[level]
	if !ok {
		return fmt.Errorf("invalid --log-level %q: use debug, info, warning or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler
	switch format {
	case "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return fmt.Errorf("invalid --log-format %q: use text or json", format)
	}
	// klog filters V(n) calls by its own verbosity before they reach the handler.
	verbosity := 0
	if lvl < 0 {
		verbosity = int(-lvl)
	}
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	if err := fs.Set("v", strconv.Itoa(verbosity)); err != nil {
		return err
	}
	klog.SetSlogLogger(slog.New(h))
	return nil
}
