package controller

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestRunnerRetriesAndRequeues(t *testing.T) {
	tests := []struct {
		name      string
		results   []error
		requeue   time.Duration
		wantCalls int
	}{
		{name: "success once", results: []error{nil}, wantCalls: 1},
		{name: "retried after errors", results: []error{errors.New("a"), errors.New("b"), nil}, wantCalls: 3},
		{name: "requeued after success", results: []error{nil, nil}, requeue: 10 * time.Millisecond, wantCalls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			calls := 0
			done := make(chan struct{})
			r := NewRunner("test", SyncFunc(func(ctx context.Context, key string) (time.Duration, error) {
				mu.Lock()
				defer mu.Unlock()
				if key != "ns/name" {
					t.Errorf("key = %q", key)
				}
				calls++
				if calls == tt.wantCalls {
					close(done)
				}
				if calls > len(tt.results) {
					return 0, nil
				}
				if calls < tt.wantCalls {
					return tt.requeue, tt.results[calls-1]
				}
				return 0, tt.results[calls-1]
			}))
			ctx, cancel := context.WithCancel(context.Background())
			stopped := make(chan error)
			go func() { stopped <- r.Run(ctx, 1) }()
			r.EnqueueKey("ns/name")
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("sync was not called often enough")
			}
			cancel()
			if err := <-stopped; err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if calls != tt.wantCalls {
				t.Errorf("calls = %d, want %d", calls, tt.wantCalls)
			}
		})
	}
}

// A panic in Sync is one failed sync of that key: the other keys are served,
// and the panicking key is retried with backoff until it succeeds.
func TestRunnerRecoversPanics(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	done := make(chan struct{})
	r := NewRunner("test", SyncFunc(func(ctx context.Context, key string) (time.Duration, error) {
		mu.Lock()
		calls[key]++
		n := calls[key]
		mu.Unlock()
		if key == "ns/bad" && n <= 2 {
			var m map[string]int
			m["boom"] = 1 // nil map write: a runtime panic
		}
		if key == "ns/bad" {
			close(done)
		}
		return 0, nil
	}))
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error)
	go func() { stopped <- r.Run(ctx, 1) }()
	r.EnqueueKey("ns/bad")
	r.EnqueueKey("ns/good")
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the panicking key was not retried until it succeeded")
	}
	cancel()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls["ns/bad"] != 3 || calls["ns/good"] != 1 {
		t.Errorf("calls = %v, want ns/bad 3 (two panics, one success) and ns/good 1", calls)
	}
}

// Every runs its work at the start and again after each period, or after
// the sooner time the work asks for, on a runner without a Syncer too; a
// panic is one failed pass; the work stops with the runner.
func TestRunnerEvery(t *testing.T) {
	for _, tt := range []struct {
		name   string
		period time.Duration
		// pass returns what the n-th call (from 1) returns; true once enough.
		pass func(n int) (time.Duration, bool)
	}{
		// Not a threshold: with an hour-long period the second call comes only
		// if the returned duration is honoured.
		{"sooner retry", time.Hour, func(n int) (time.Duration, bool) { return time.Millisecond, n == 2 }},
		{"panic", time.Millisecond, func(n int) (time.Duration, bool) {
			if n == 1 {
				panic("boom")
			}
			return 0, n == 2
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			calls := 0
			enough := make(chan struct{})
			r := NewRunner("periodic", nil)
			r.Every(tt.period, func(context.Context) time.Duration {
				mu.Lock()
				calls++
				n := calls
				mu.Unlock()
				next, done := tt.pass(n)
				if done {
					close(enough)
				}
				return next
			})
			ctx, cancel := context.WithCancel(context.Background())
			stopped := make(chan error)
			go func() { stopped <- r.Run(ctx, 3) }()
			select {
			case <-enough:
			case <-time.After(10 * time.Second):
				t.Fatal("the periodic work did not run twice")
			}
			cancel()
			if err := <-stopped; err != nil {
				t.Fatal(err)
			}
		})
	}
}
