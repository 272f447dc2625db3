package oplog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
)

func TestRecords(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Date(2026, 11, 22, 1, 0, 0, 0, time.FixedZone("x", 3600)))
	for _, kind := range []string{Backup, Restore} {
		var buf bytes.Buffer
		l := New(context.Background(), &buf, kind, "op1", clk)
		l.Info("started", "items", 3)
		l.Item(slog.LevelWarn, "skipped", "deployments.apps", "ns", "d", KeyReason, "filtered")
		l.Error("failed", KeyError, "boom")
		l.Debug("detail")
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		want := []map[string]any{
			{"time": "2026-11-22T00:00:00Z", "level": "INFO", "msg": "started", kind: "op1", "items": 3.0},
			{"time": "2026-11-22T00:00:00Z", "level": "WARN", "msg": "skipped", kind: "op1", "resource": "deployments.apps", "namespace": "ns", "name": "d", "reason": "filtered"},
			{"time": "2026-11-22T00:00:00Z", "level": "ERROR", "msg": "failed", kind: "op1", "error": "boom"},
			{"time": "2026-11-22T00:00:00Z", "level": "DEBUG", "msg": "detail", kind: "op1"},
		}
		if len(lines) != len(want) {
			t.Fatalf("%s: %d lines, want %d:\n%s", kind, len(lines), len(want), buf.String())
		}
		for i, line := range lines {
			var got map[string]any
			if err := json.Unmarshal([]byte(line), &got); err != nil {
				t.Fatalf("%s: line %q: %v", kind, line, err)
			}
			if len(got) != len(want[i]) {
				t.Errorf("%s: line %q, want %v", kind, line, want[i])
			}
			for k, v := range want[i] {
				if got[k] != v {
					t.Errorf("%s: line %q: %s = %v, want %v", kind, line, k, got[k], v)
				}
			}
		}
		if l.Err() != nil {
			t.Errorf("Err = %v", l.Err())
		}
	}
}

// failAfter accepts n writes, then fails every write.
type failAfter struct {
	n     int
	lines []string
}

func (f *failAfter) Write(p []byte) (int, error) {
	if len(f.lines) == f.n {
		return 0, errors.New("disk full")
	}
	f.lines = append(f.lines, string(p))
	return len(p), nil
}

func TestWriteErrorStopsTheLog(t *testing.T) {
	w := &failAfter{n: 1}
	l := New(context.Background(), w, Backup, "b", clocktesting.NewFakePassiveClock(time.Now()))
	l.Info("one")
	l.Info("two")
	w.n = 3 // the writer would work again: the log stays cut
	l.Info("three")
	if err := l.Err(); err == nil || err.Error() != "disk full" {
		t.Errorf("Err = %v", err)
	}
	if len(w.lines) != 1 {
		t.Errorf("lines %q", w.lines)
	}
	var nilLog *Log
	nilLog.Info("nothing")
	if nilLog.Err() != nil {
		t.Error("nil log has an error")
	}
}

// BenchmarkItem measures one item record, as a backup writes one per item.
func BenchmarkItem(b *testing.B) {
	l := New(context.Background(), io.Discard, Backup, "bench", clock.RealClock{})
	b.ReportAllocs()
	for b.Loop() {
		l.Item(slog.LevelInfo, "Item backed up", "configmaps", "bench", "cm-00001")
	}
}
