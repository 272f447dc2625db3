// Package wait follows a backup or restore until it reaches a final phase,
// showing a live progress line.
package wait

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"
)

// State is what one look at the object found.
type State struct {
	Phase string
	Done  int
	Total int
	Final bool
}

// isTerminal says whether w is a terminal, where the line can be rewritten in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Until calls get every interval until it reports a final state, writing a
// progress line ("InProgress, 12/40 items, 3s") to w: rewritten in place on a
// terminal, else a new line whenever the phase changes.
func Until(ctx context.Context, w io.Writer, what string, interval time.Duration, get func(context.Context) (State, error)) (State, error) {
	if !isTerminal(w) {
		return untilPlain(ctx, w, what, interval, get)
	}
	start := time.Now()
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	last := ""
	for {
		s, err := get(ctx)
		if err != nil {
			fmt.Fprintln(w)
			return s, err
		}
		phase := s.Phase
		if phase == "" {
			phase = "New"
		}
		line := fmt.Sprintf("%s: %s", what, phase)
		if s.Total > 0 || s.Done > 0 {
			line += fmt.Sprintf(", %d/%d items", s.Done, s.Total)
		}
		line += fmt.Sprintf(", %s", time.Since(start).Round(time.Second))
		if len(line) < len(last) {
			line += fmt.Sprintf("%*s", len(last)-len(line), "")
		}
		fmt.Fprintf(w, "\r%s", line)
		last = line
		if s.Final {
			fmt.Fprintln(w)
			return s, nil
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(w)
			return s, fmt.Errorf("stopped waiting for %s: %w", what, ctx.Err())
		case <-ticker.C:
		}
	}
}

func untilPlain(ctx context.Context, w io.Writer, what string, interval time.Duration, get func(context.Context) (State, error)) (State, error) {
	start := time.Now()
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	lastPhase := "-"
	for {
		s, err := get(ctx)
		if err != nil {
			return s, err
		}
		if s.Phase != lastPhase || s.Final {
			phase := s.Phase
			if phase == "" {
				phase = "New"
			}
			line := fmt.Sprintf("%s: %s", what, phase)
			if s.Total > 0 || s.Done > 0 {
				line += fmt.Sprintf(", %d/%d items", s.Done, s.Total)
			}
			fmt.Fprintf(w, "%s, %s\n", line, time.Since(start).Round(time.Second))
			lastPhase = s.Phase
		}
		if s.Final {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return s, fmt.Errorf("stopped waiting for %s: %w", what, ctx.Err())
		case <-ticker.C:
		}
	}
}
