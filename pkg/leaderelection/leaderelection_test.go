package leaderelection

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes/fake"
)

func fastConfig(client *fake.Clientset, id string) Config {
	return Config{Client: client, Namespace: "heptio-ark", Identity: id,
		LeaseDuration: 2 * time.Second, RenewDeadline: 1500 * time.Millisecond, RetryPeriod: 200 * time.Millisecond}
}

// TestOneLeaderThenFailover: of two candidates one leads; when it stops, it
// releases the lease after its work returned and the other takes over.
func TestOneLeaderThenFailover(t *testing.T) {
	client := fake.NewClientset()
	var active, maxActive atomic.Int32
	leading := make(chan string, 2)
	lead := func(id string) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			n := active.Add(1)
			if n > maxActive.Load() {
				maxActive.Store(n)
			}
			leading <- id
			<-ctx.Done()
			time.Sleep(100 * time.Millisecond)
			active.Add(-1)
			return nil
		}
	}
	cancels := map[string]context.CancelFunc{}
	dones := map[string]chan error{}
	for _, id := range []string{"a", "b"} {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		done := make(chan error, 1)
		cancels[id], dones[id] = cancel, done
		go func() { done <- Run(ctx, fastConfig(client, id), lead(id)) }()
	}
	var first string
	select {
	case first = <-leading:
	case <-time.After(10 * time.Second):
		t.Fatal("nobody leads")
	}
	select {
	case id := <-leading:
		t.Fatalf("%s leads too", id)
	case <-time.After(3 * time.Second):
	}
	cancels[first]()
	if err := <-dones[first]; err != nil {
		t.Fatalf("clean stop returned %v", err)
	}
	select {
	case <-leading:
	case <-time.After(10 * time.Second):
		t.Fatal("no failover")
	}
	if maxActive.Load() != 1 {
		t.Fatalf("%d leaders at once", maxActive.Load())
	}
}

// Losing the lease to another holder (ErrLostLease) needs the API server's
// optimistic concurrency, which the fake clientset lacks: see
// TestLeaderElectionIntegration in pkg/controller.

// TestLeadError: lead returning by itself ends Run with its error.
func TestLeadError(t *testing.T) {
	want := errors.New("config changed")
	err := Run(context.Background(), fastConfig(fake.NewClientset(), "a"), func(ctx context.Context) error { return want })
	if !errors.Is(err, want) || errors.Is(err, ErrLostLease) {
		t.Fatalf("Run = %v, want %v", err, want)
	}
}
