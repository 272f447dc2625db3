// Package leaderelection keeps one ark server active among its replicas: a
// server runs its controllers only while it holds the Lease "ark" in its
// namespace (client-go's Lease lock), and stops as soon as it loses it.
package leaderelection

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
)

// DefaultLeaseName is the name of the Lease the ark servers compete for.
const DefaultLeaseName = "ark"

// Defaults of the lease timings (those of kube-controller-manager).
const (
	DefaultLeaseDuration = 15 * time.Second
	DefaultRenewDeadline = 10 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
)

// ErrLostLease is returned by Run when the lease was lost while leading: the
// process should exit non-zero so that it is restarted as a candidate.
var ErrLostLease = errors.New("lost the leader lease: another ark server may be active now")

// Config says which lease to hold, as whom.
type Config struct {
	Client    kubernetes.Interface
	Namespace string
	// Name of the Lease; default DefaultLeaseName.
	Name string
	// Identity of this candidate; default NewIdentity().
	Identity string
	// Lease timings; zero means the default.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// NewIdentity returns the hostname followed by a random suffix, unique per process.
func NewIdentity() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "ark"
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return host + "_" + hex.EncodeToString(b)
}

// Run waits until this process holds the lease, then runs lead with a
// context that ends when ctx ends or the lease is lost. It returns once lead
// has returned:
//   - ctx done: lead's error (nil for a clean stop); the lease is released
//     only after lead returned, so no two servers ever run at once.
//   - lease lost: ErrLostLease (joined with lead's error, if any).
//   - lead returned by itself: its error; the lease is released.
//   - ctx done before this process ever led: nil (a standby stopped cleanly).
func Run(ctx context.Context, cfg Config, lead func(ctx context.Context) error) error {
	if cfg.Client == nil || cfg.Namespace == "" {
		return errors.New("leaderelection: client and namespace are required")
	}
	if cfg.Name == "" {
		cfg.Name = DefaultLeaseName
	}
	if cfg.Identity == "" {
		cfg.Identity = NewIdentity()
	}
	if cfg.LeaseDuration <= 0 {
		cfg.LeaseDuration = DefaultLeaseDuration
	}
	if cfg.RenewDeadline <= 0 {
		cfg.RenewDeadline = DefaultRenewDeadline
	}
	if cfg.RetryPeriod <= 0 {
		cfg.RetryPeriod = DefaultRetryPeriod
	}
	logger := klog.FromContext(ctx).WithValues("lease", cfg.Namespace+"/"+cfg.Name, "identity", cfg.Identity)
	ctx = klog.NewContext(ctx, logger)

	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metaOf(cfg),
		Client:     cfg.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: cfg.Identity},
	}
	// The elector's context is not ctx: on shutdown, lead must stop before
	// the lease is released.
	electorCtx, stopElector := context.WithCancel(context.WithoutCancel(ctx))
	defer stopElector()

	started := make(chan struct{})
	leadDone := make(chan struct{})
	var leadErr error
	var lost bool
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   cfg.LeaseDuration,
		RenewDeadline:   cfg.RenewDeadline,
		RetryPeriod:     cfg.RetryPeriod,
		ReleaseOnCancel: true,
		Name:            cfg.Name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(leCtx context.Context) {
				close(started)
				defer close(leadDone)
				defer stopElector() // lead returned by itself: give the lease up
				runCtx, cancel := context.WithCancel(klog.NewContext(leCtx, logger))
				defer cancel()
				stop := context.AfterFunc(ctx, cancel)
				defer stop()
				logger.Info("Leading: running the controllers")
				leadErr = lead(runCtx)
				// leCtx ends first when the renewal failed.
				lost = leCtx.Err() != nil && ctx.Err() == nil
			},
			OnStoppedLeading: func() {},
			OnNewLeader: func(id string) {
				if id != cfg.Identity {
					logger.Info("Another ark server leads; standing by", "leader", id)
				}
			},
		},
	})
	if err != nil {
		return err
	}
	go func() {
		select {
		case <-ctx.Done():
		case <-electorCtx.Done():
			return
		}
		select {
		case <-started:
			<-leadDone
		default:
		}
		stopElector()
	}()
	le.Run(electorCtx)

	select {
	case <-started:
		<-leadDone
	default:
		// Never led; asked to stop while standing by: a clean stop (a standby
		// replica SIGTERMed by its Deployment exits 0).
		return nil
	}
	if lost {
		logger.Info("Lost the leader lease; stopping")
		return errors.Join(ErrLostLease, leadErr)
	}
	return leadErr
}

func metaOf(cfg Config) (m metav1.ObjectMeta) {
	m.Namespace, m.Name = cfg.Namespace, cfg.Name
	return m
}

// String describes the config for logs.
func (c Config) String() string {
	return fmt.Sprintf("lease %s/%s as %s", c.Namespace, c.Name, c.Identity)
}
