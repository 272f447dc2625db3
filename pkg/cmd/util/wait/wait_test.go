package wait

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestUntilPlain(t *testing.T) {
	states := []State{{Phase: ""}, {Phase: "InProgress", Total: 10, Done: 3}, {Phase: "InProgress", Total: 10, Done: 7}, {Phase: "Completed", Total: 10, Done: 10, Final: true}}
	i := 0
	var out bytes.Buffer
	got, err := Until(context.Background(), &out, "Backup b", time.Millisecond, func(context.Context) (State, error) {
		s := states[i]
		i++
		return s, nil
	})
	if err != nil || got.Phase != "Completed" {
		t.Fatalf("got %+v, %v", got, err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "Backup b: New") || !strings.HasPrefix(lines[1], "Backup b: InProgress, 3/10 items") || !strings.HasPrefix(lines[2], "Backup b: Completed, 10/10 items") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestUntilStopsOnErrorAndCancel(t *testing.T) {
	boom := errors.New("boom")
	if _, err := Until(context.Background(), &bytes.Buffer{}, "x", time.Millisecond, func(context.Context) (State, error) { return State{}, boom }); !errors.Is(err, boom) {
		t.Errorf("err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Until(ctx, &bytes.Buffer{}, "x", time.Hour, func(context.Context) (State, error) { return State{Phase: "InProgress"}, nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}
