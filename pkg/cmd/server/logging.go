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

// logFormats maps --log-format to its slog handler.
var logFormats = map[string]func(io.Writer, *slog.HandlerOptions) slog.Handler{
	"text": func(w io.Writer, o *slog.HandlerOptions) slog.Handler { return slog.NewTextHandler(w, o) },
	"json": func(w io.Writer, o *slog.HandlerOptions) slog.Handler { return slog.NewJSONHandler(w, o) },
}

// checkLogging checks --log-level and --log-format.
func checkLogging(level, format string) error {
	if _, ok := logLevels[level]; !ok {
		return fmt.Errorf("invalid --log-level %q: use debug, info, warning or error", level)
	}
	if _, ok := logFormats[format]; !ok {
		return fmt.Errorf("invalid --log-format %q: use text or json", format)
	}
	return nil
}

// configureLogging routes klog (ark's contextual loggers and client-go's) to
// a slog handler of the given format (text or json) and level, writing to w
// through redact.Writer: whatever a library logs, no URL query string (a SAS
// or pre-signed signature) nor credential-named value reaches the log.
func configureLogging(level, format string, w io.Writer) error {
	if err := checkLogging(level, format); err != nil {
		return err
	}
	lvl := logLevels[level]
	h := logFormats[format](redact.Writer(w), &slog.HandlerOptions{Level: lvl})
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
