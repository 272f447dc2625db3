// Package controller holds ark's controllers. Each one is built by its
// constructor (required collaborators, then opts ...Option), registers its
// informers and periodic work with a Runner (Register(r, informers)) and
// implements Sync(ctx, key); the Runner owns the rate-limited work queue, the
// workers, cache syncing, requeueing and periodic work (Every).
package controller

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	arkinformers "github.com/heptio/ark/pkg/generated/informers/externalversions/ark/v1"
)

// Syncer is one controller's logic: bring the object with this key to where it
// should be. A returned error is retried with backoff; a positive requeueAfter
// asks to be called again after that long (a schedule's next tick, an expiry)
// instead of polling.
type Syncer interface {
	Sync(ctx context.Context, key string) (requeueAfter time.Duration, err error)
}

// SyncFunc adapts a function to Syncer.
type SyncFunc func(ctx context.Context, key string) (time.Duration, error)

// Sync calls f.
func (f SyncFunc) Sync(ctx context.Context, key string) (time.Duration, error) { return f(ctx, key) }

// Runner runs a Syncer over a work queue fed by informers, and the periodic
// work registered with Every.
type Runner struct {
	name      string
	syncer    Syncer
	queue     workqueue.TypedRateLimitingInterface[string]
	hasSynced []cache.InformerSynced
	maxRetry  int
	periodic  []periodic
}

// periodic is work Every registered.
type periodic struct {
	period time.Duration
	fn     func(ctx context.Context) time.Duration
}

// NewRunner returns a runner named name (for logs and the queue's metrics).
// syncer may be nil for a runner with periodic work only.
func NewRunner(name string, syncer Syncer) *Runner {
	return &Runner{
		name:   name,
		syncer: syncer,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: name},
		),
		maxRetry: 15,
	}
}

// Name is the controller's name.
func (r *Runner) Name() string { return r.name }

// Watch enqueues the key of every object the informer adds or updates (and,
// with onDelete, deletes), optionally only those filter accepts.
func (r *Runner) Watch(informer cache.SharedIndexInformer, filter func(obj any) bool, onDelete bool) error {
	accept := func(obj any) bool { return filter == nil || filter(obj) }
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if accept(obj) {
				r.Enqueue(obj)
			}
		},
		UpdateFunc: func(_, obj any) {
			if accept(obj) {
				r.Enqueue(obj)
			}
		},
	}
	if onDelete {
		handler.DeleteFunc = func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if accept(obj) {
				r.Enqueue(obj)
			}
		}
	}
	if _, err := informer.AddEventHandler(handler); err != nil {
		return fmt.Errorf("%s: watching: %w", r.name, err)
	}
	r.hasSynced = append(r.hasSynced, informer.HasSynced)
	return nil
}

// WaitFor adds an informer whose cache must be synced before workers start,
// without enqueueing its events.
func (r *Runner) WaitFor(synced ...cache.InformerSynced) {
	r.hasSynced = append(r.hasSynced, synced...)
}

// Enqueue adds an object's namespace/name key.
func (r *Runner) Enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		runtime.HandleError(fmt.Errorf("%s: no key for %T: %w", r.name, obj, err))
		return
	}
	r.queue.Add(key)
}

// EnqueueKey adds a namespace/name key as it is.
func (r *Runner) EnqueueKey(key string) { r.queue.Add(key) }

// Every makes Run call fn once the caches are synced, then again period after
// each call returns (or after the duration fn returns, if positive: a sooner
// retry), until ctx is done. Calls of one fn never overlap; fn runs beside the
// workers, so what it must serialize with them it enqueues. Register before Run.
func (r *Runner) Every(period time.Duration, fn func(ctx context.Context) (next time.Duration)) {
	r.periodic = append(r.periodic, periodic{period: period, fn: fn})
}

// runEvery runs p until ctx is done. A panic of fn is logged and waits for
// the next period, like a failed Sync.
func runEvery(ctx context.Context, p periodic) {
	call := func() (next time.Duration) {
		defer func() {
			if e := recover(); e != nil {
				klog.FromContext(ctx).Error(nil, "Periodic work panicked", "panic", e, "stack", string(debug.Stack()))
				next = 0
			}
		}()
		return p.fn(ctx)
	}
	for {
		next := call()
		if next <= 0 {
			next = p.period
		}
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Run waits for the caches, then runs workers until ctx is done, and returns
// once they have stopped.
func (r *Runner) Run(ctx context.Context, workers int) error {
	logger := klog.FromContext(ctx).WithValues("controller", r.name)
	ctx = klog.NewContext(ctx, logger)
	defer r.queue.ShutDown()

	if !cache.WaitForCacheSync(ctx.Done(), r.hasSynced...) {
		return fmt.Errorf("%s: caches did not sync before shutdown", r.name)
	}
	if r.syncer == nil {
		workers = 0
	}
	logger.Info("Starting controller", "workers", workers, "periodic", len(r.periodic))
	var wg sync.WaitGroup
	for _, p := range r.periodic {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runEvery(ctx, p)
		}()
	}
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r.processNext(ctx) {
			}
		}()
	}
	<-ctx.Done()
	r.queue.ShutDown()
	wg.Wait()
	logger.Info("Stopped controller")
	return nil
}

func (r *Runner) processNext(ctx context.Context) bool {
	key, shutdown := r.queue.Get()
	if shutdown {
		return false
	}
	defer r.queue.Done(key)
	logger := klog.FromContext(ctx).WithValues("key", key)
	after, err := r.sync(klog.NewContext(ctx, logger), key)
	switch {
	case err != nil && r.queue.NumRequeues(key) < r.maxRetry:
		logger.Error(err, "Sync failed; retrying")
		r.queue.AddRateLimited(key)
	case err != nil:
		logger.Error(err, "Sync failed; giving up until the object changes")
		r.queue.Forget(key)
	default:
		r.queue.Forget(key)
		if after > 0 {
			r.queue.AddAfter(key, after)
		}
	}
	return true
}

// sync calls the syncer and turns a panic into an error, so that one object
// the code did not expect is logged with its key and retried with backoff
// while every other key keeps being served (a panic would stop the server for
// all of them, and again after every restart).
func (r *Runner) sync(ctx context.Context, key string) (after time.Duration, err error) {
	defer func() {
		if p := recover(); p != nil {
			klog.FromContext(ctx).Error(nil, "Sync panicked", "panic", p, "stack", string(debug.Stack()))
			after, err = 0, fmt.Errorf("%s: sync of %q panicked: %v", r.name, key, p)
		}
	}()
	return r.syncer.Sync(ctx, key)
}

// Controller is what every controller is: it registers its informers and its
// periodic work with a Runner, and (all but the periodic-only ones) is a
// Syncer.
type Controller interface {
	Register(r *Runner, inf arkinformers.Interface) error
}

// NewRunnerFor returns a Runner named name that runs c (its Sync, if it is a
// Syncer), with c registered on inf.
func NewRunnerFor(name string, c Controller, inf arkinformers.Interface) (*Runner, error) {
	s, _ := c.(Syncer)
	r := NewRunner(name, s)
	if err := c.Register(r, inf); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return r, nil
}
