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
