// Package server is `ark server`: it builds the clients and informers, runs the
// controllers, and stops cleanly on SIGTERM or SIGINT.
package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/backup"
	"github.com/heptio/ark/pkg/buildinfo"
	"github.com/heptio/ark/pkg/client"
	"github.com/heptio/ark/pkg/controller"
	"github.com/heptio/ark/pkg/discovery"
	arkclient "github.com/heptio/ark/pkg/generated/clientset/versioned"
	arkscheme "github.com/heptio/ark/pkg/generated/clientset/versioned/scheme"
	arkinformers "github.com/heptio/ark/pkg/generated/informers/externalversions"
	"github.com/heptio/ark/pkg/leaderelection"
	"github.com/heptio/ark/pkg/metrics"
	"github.com/heptio/ark/pkg/restore"
	"github.com/heptio/ark/pkg/tolerant"
	"github.com/heptio/ark/pkg/volume"
)

// Options are the flags of `ark server`.
type Options struct {
	ClientQPS       float32
	ClientBurst     int
	Workers         int
	ShutdownTimeout time.Duration
	HTTPAddress     string
	PageSize        int64
	// BackupWorkers and RestoreWorkers are how many Backups and Restores run
	// at once; RestoreItemWorkers how many objects one restore creates at once.
	BackupWorkers      int
	RestoreWorkers     int
	RestoreItemWorkers int
	LogLevel           string
	LogFormat          string

	// LeaderElect runs the controllers only while this server holds the
	// Lease "ark" in its namespace, so that one replica is active.
	LeaderElect   bool
	LeaseDuration time.Duration
	RenewDeadline time.Duration
	RetryPeriod   time.Duration
}

// The server's client-side rate limit. By default there is none (QPS < 0, as
// client-go reads it): the API server sets the pace. API Priority and Fairness
// (on by default since Kubernetes 1.20, GA in 1.29) queues the server's
// requests in its own flow and answers 429 with Retry-After when its share is
// full; client-go waits that long and retries (up to 10 times per request).
// The server's own concurrency is bounded anyway: --restore-item-workers
// creates per restore, one list at a time per backup, --backup-workers and
// --restore-workers operations at once, and its controllers' workers. A fixed client
// QPS (client-go's default 5, or the former 100 here) only slows a restore
// of many objects (5,000 ConfigMaps: 48 s at QPS 100 against 4 s raw) and
// protects nothing that APF does not already protect.
const (
	DefaultClientQPS   float32 = -1
	DefaultClientBurst         = 200
)

// Default numbers of Backups and Restores run at once (--backup-workers,
// --restore-workers). Above one, a slow backup of one schedule does not hold
// back the others; each operation keeps its own state, log and tarball.
const (
	DefaultBackupWorkers  = 4
	DefaultRestoreWorkers = 4
)

// DefaultGCPercent is the server's garbage-collection target unless the
// GOGC environment variable sets one: the heap may grow 50% over what is
// live between collections, not Go's default 100%. A restore's garbage (one
// decoded object per create) then costs less memory at its peak (a restore of
// 100,000 objects indexes them all) for a little more CPU.
const DefaultGCPercent = 50

// downloadPath is where the filesystem provider's signed URLs are served.
const downloadPath = "/download"

// NewCommand returns `ark server`.
func NewCommand(f client.Factory) *cobra.Command {
	o := &Options{ClientQPS: DefaultClientQPS, ClientBurst: DefaultClientBurst, Workers: 1, ShutdownTimeout: 30 * time.Second, HTTPAddress: ":8085", PageSize: 500, BackupWorkers: DefaultBackupWorkers, RestoreWorkers: DefaultRestoreWorkers, RestoreItemWorkers: restore.DefaultWorkers, LogLevel: "info", LogFormat: "text",
		LeaderElect: true, LeaseDuration: leaderelection.DefaultLeaseDuration, RenewDeadline: leaderelection.DefaultRenewDeadline, RetryPeriod: leaderelection.DefaultRetryPeriod}
	c := &cobra.Command{
		Use:   "server",
		Short: "Run the ark server",
		Long: `Runs the ark controllers against the cluster: in the cluster (as examples/common/10-deployment.yaml
does) or outside it with --kubeconfig. It stops cleanly on SIGTERM or SIGINT.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := configureLogging(o.LogLevel, o.LogFormat, c.ErrOrStderr()); err != nil {
				return err
			}
			if os.Getenv("GOGC") == "" {
				debug.SetGCPercent(DefaultGCPercent)
			}
			for flag, n := range map[string]int{"--backup-workers": o.BackupWorkers, "--restore-workers": o.RestoreWorkers, "--restore-item-workers": o.RestoreItemWorkers} {
				if n < 1 {
					return fmt.Errorf("%s must be at least 1, not %d", flag, n)
				}
			}
			ctx, stop := signal.NotifyContext(c.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			client.SetClientRateLimits(f, o.ClientQPS, o.ClientBurst)
			return o.Run(ctx, f)
		},
	}
	o.BindFlags(c)
	return c
}

// BindFlags adds the server's flags.
func (o *Options) BindFlags(c *cobra.Command) {
	flags := c.Flags()
	flags.Float32Var(&o.ClientQPS, "client-qps", o.ClientQPS, "Client-side limit of the queries per second the server sends to the Kubernetes API server. Negative (the default): no client-side limit; the API server's Priority and Fairness sets the pace, and its 429 answers make the server wait as long as their Retry-After says and retry. Set a positive value only for an API server without Priority and Fairness.")
	flags.IntVar(&o.ClientBurst, "client-burst", o.ClientBurst, "Burst of queries above --client-qps; used only when --client-qps is positive.")
	flags.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", o.ShutdownTimeout, "How long to wait for controllers to stop after SIGTERM.")
	flags.StringVar(&o.HTTPAddress, "metrics-address", o.HTTPAddress, "Address of the server's HTTP listener: /metrics (Prometheus), /healthz, /readyz, and the filesystem provider's download links. Empty disables it.")
	flags.IntVar(&o.BackupWorkers, "backup-workers", o.BackupWorkers, "How many backups run at the same time. Each holds one list request open at a time and streams its tarball, so a slow backup does not hold back the others (or the backups of other schedules).")
	flags.IntVar(&o.RestoreWorkers, "restore-workers", o.RestoreWorkers, "How many restores run at the same time (each creates up to --restore-item-workers objects at once).")
	flags.IntVar(&o.RestoreItemWorkers, "restore-item-workers", o.RestoreItemWorkers, "How many objects one restore creates in parallel, within a group of resources restored together (the resources its priorities leave unordered; each prerequisite such as CRDs, namespaces, service accounts is a group of its own).")
	flags.Int64Var(&o.PageSize, "page-size", o.PageSize, "How many objects a backup asks the API server for in one list request.")
	flags.BoolVar(&o.LeaderElect, "leader-elect", o.LeaderElect, "Run the controllers only while holding the Lease \"ark\" in the server's namespace, so that one of several replicas is active; losing it stops the server (exit 1). Disable only when a single server runs.")
	flags.DurationVar(&o.LeaseDuration, "leader-elect-lease-duration", o.LeaseDuration, "How long a standby server waits after the last renewal before taking the lease over.")
	flags.DurationVar(&o.RenewDeadline, "leader-elect-renew-deadline", o.RenewDeadline, "How long the leader keeps trying to renew the lease before it stops.")
	flags.DurationVar(&o.RetryPeriod, "leader-elect-retry-period", o.RetryPeriod, "How often the lease is tried or renewed.")
	flags.StringVar(&o.LogLevel, "log-level", o.LogLevel, "Least important log lines to write: debug, info, warning or error.")
	flags.StringVar(&o.LogFormat, "log-format", o.LogFormat, "Format of the log: text or json (one object per line).")
}

// Run runs the server until ctx is done.
func (o *Options) Run(ctx context.Context, f client.Factory) error {
	logger := klog.FromContext(ctx).WithValues("namespace", f.Namespace())
	ctx = klog.NewContext(ctx, logger)
	logger.Info("Starting ark server", "version", buildinfo.Version, "gitCommit", buildinfo.GitSHA)

	restConfig, err := f.ClientConfig()
	if err != nil {
		return err
	}
	arkClient, err := arkclient.NewForConfig(restConfig)
	if err != nil {
		return err
	}
	kubeClient, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return err
	}
	dynamicClient, err := dynamic.NewForConfig(restConfig)
	if err != nil {
		return err
	}

	cfg, err := loadConfig(ctx, arkClient, f.Namespace())
	if err != nil {
		return err
	}
	storage, err := newObjectStorage(ctx, cfg, o.HTTPAddress)
	if err != nil {
		return err
	}
	logger.Info("Using object storage", "provider", cfg.BackupStorageProvider.Name, "bucket", cfg.BackupStorageProvider.Bucket, "restoreOnlyMode", cfg.RestoreOnlyMode)

	// A change of the Config stops the server; its Deployment starts it again with the new one.
	ctx, stopOnConfigChange := context.WithCancelCause(ctx)
	defer stopOnConfigChange(nil)

	// Events on schedules and backups, shown by kubectl describe.
	eventBroadcaster := record.NewBroadcaster(record.WithContext(ctx))
	eventBroadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: kubeClient.CoreV1().Events(f.Namespace())})
	defer eventBroadcaster.Shutdown()
	events := eventBroadcaster.NewRecorder(arkscheme.Scheme, corev1.EventSource{Component: "ark-server"})

	informers := arkinformers.NewSharedInformerFactoryWithOptions(arkClient, 0, arkinformers.WithNamespace(f.Namespace()))
	registerTolerantInformers(ctx, informers, dynamicClient, f.Namespace(), events)
	v1 := informers.Ark().V1()
	if _, err := v1.Configs().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(old, cur any) {
			o, c := old.(*arkv1.Config), cur.(*arkv1.Config)
			if c.Name == arkv1.DefaultConfigName && o.ResourceVersion != c.ResourceVersion && o.Generation != c.Generation {
				stopOnConfigChange(errConfigChanged)
			}
		},
	}); err != nil {
		return err
	}
	clk := clock.RealClock{}
	discoveryHelper := discovery.NewHelper(kubeClient.Discovery())
	if err := discoveryHelper.Refresh(ctx); err != nil {
		logger.Error(err, "Discovery is incomplete; going on with what the API server answered")
	}
	// Persistent volume snapshots (Config.persistentVolumeProvider: aws, gcp, azure or csi).
	// Unset: backups record a warning per volume, restores of backups with snapshots fail
	// for those volumes unless restorePVs is false, gc finds no snapshot to delete.
	var (
		snapshotter     backup.VolumeSnapshotter
		volumeRestorer  restore.VolumeRestorer
		snapshotDeleter controller.SnapshotDeleter
	)
	volumes, err := volume.New(ctx, cfg.PersistentVolumeProvider, volume.Options{Dynamic: dynamicClient})
	if err != nil {
		return fmt.Errorf("persistentVolumeProvider: %w", err)
	}
	if volumes != nil {
		snapshotter, volumeRestorer, snapshotDeleter = volumes.Snapshotter, volumes.Restorer, volumes.Deleter
		logger.Info("Using persistent volume provider", "provider", volumes.Name)
	}
	podExec, err := backup.NewRemotePodCommandExecutor(restConfig)
	if err != nil {
		return err
	}

	serverMetrics := metrics.New()
	report := []controller.Option{controller.WithMetrics(serverMetrics), controller.WithEventRecorder(events)}

	var runners []*controller.Runner
	// In restore-only mode the backup controller still runs, to give new backups
	// a FailedValidation that says why instead of leaving them New.
	rawLister, err := backup.NewRESTRawLister(restConfig)
	if err != nil {
		return err
	}
	backupper := backup.NewBackupper(discoveryHelper, dynamicClient, podExec, snapshotter, clk,
		backup.WithPageSize(o.PageSize), backup.WithRawLister(rawLister))
	backupController := controller.NewBackupController(v1.Backups().Lister(), arkClient.ArkV1(), backupper,
		resolver{discoveryHelper}, storage.backups, clk, cfg.RestoreOnlyMode, report...)
	// The cluster's identity, recorded in every backup's metadata: the UID of kube-system.
	if ns, err := kubeClient.CoreV1().Namespaces().Get(ctx, metav1.NamespaceSystem, metav1.GetOptions{}); err != nil {
		logger.Error(err, "Reading the kube-system namespace; backups record no cluster identity (ownership goes by Backup UID alone)")
	} else {
		backupController.SetClusterID(string(ns.UID))
		logger.Info("Cluster identity", "clusterID", ns.UID)
	}
	backupRunner := controller.NewRunner("backup", backupController)
	if err := backupController.Register(backupRunner, v1.Backups().Informer()); err != nil {
		return err
	}
	runners = append(runners, backupRunner)
	restorer := restore.NewRestorer(discoveryHelper, dynamicClient, restore.Options{
		VolumeRestorer:     volumeRestorer,
		Workers:            o.RestoreItemWorkers,
		ResourcePriorities: cfg.EffectiveResourcePriorities(),
		Clock:              clk,
	})
	restoreController := controller.NewRestoreController(v1.Restores().Lister(), v1.Backups().Lister(), arkClient.ArkV1(), restorer, storage.backups, clk, report...)
	restoreRunner := controller.NewRunner("restore", restoreController)
	if err := restoreController.Register(restoreRunner, v1.Restores().Informer(), v1.Backups().Informer()); err != nil {
		return err
	}
	runners = append(runners, restoreRunner)

	downloads := controller.NewDownloadRequestController(v1.DownloadRequests().Lister(), v1.Restores().Lister(), arkClient.ArkV1(), storage.backups, clk)
	downloadRunner := controller.NewRunner("download-request", downloads)
	if err := downloads.Register(downloadRunner, v1.DownloadRequests().Informer()); err != nil {
		return err
	}
	downloadRunner.WaitFor(v1.Restores().Informer().HasSynced)
	runners = append(runners, downloadRunner)

	// Schedules run in restore-only mode too: they are FailedValidation then,
	// saying why, and Enabled again once the mode is turned off.
	scheduleController := controller.NewScheduleController(v1.Schedules().Lister(), arkClient.ArkV1(), clk, cfg.RestoreOnlyMode)
	scheduleController.SetEventRecorder(events)
	scheduleRunner := controller.NewRunner("schedule", scheduleController)
	if err := scheduleController.Register(scheduleRunner, v1.Schedules().Informer()); err != nil {
		return err
	}
	runners = append(runners, scheduleRunner)

	// The gc controller expires backups (through DeleteBackupRequests) and removes the
	// finalizer of earlier versions; in restore-only mode it does only the latter.
	gc := controller.NewGCController(v1.Backups().Lister(), v1.DeleteBackupRequests().Lister(), arkClient.ArkV1(), clk,
		cfg.EffectiveGCSyncPeriod(), cfg.RestoreOnlyMode)
	gc.SetEventRecorder(events)
	gcRunner := controller.NewRunner("gc", gc)
	if err := gc.Register(gcRunner, v1.Backups().Informer(), v1.DeleteBackupRequests().Informer()); err != nil {
		return err
	}
	runners = append(runners, gcRunner)

	// DeleteBackupRequests are the only way to delete from the bucket or a snapshot;
	// never in restore-only mode (the requests wait, New, until it is turned off).
	if !cfg.RestoreOnlyMode {
		deletion := controller.NewDeletionController(v1.DeleteBackupRequests().Lister(), v1.Backups().Lister(), v1.Restores().Lister(),
			arkClient.ArkV1(), storage.backups, snapshotDeleter, cfg.EffectiveGCSyncPeriod(), report...)
		deletionRunner := controller.NewRunner("backup-deletion", deletion)
		if err := deletion.Register(deletionRunner, v1.DeleteBackupRequests().Informer(), v1.Backups().Informer(), v1.Restores().Informer()); err != nil {
			return err
		}
		runners = append(runners, deletionRunner)
	}

	// The backup sync controller only reads the bucket: it runs in every mode.
	backupSync := controller.NewBackupSyncController(v1.Backups().Lister(), arkClient.ArkV1(), storage.backups, f.Namespace(), cfg.EffectiveBackupSyncPeriod())
	backupSync.SetEventRecorder(events)
	backupSync.SetMetrics(serverMetrics)
	syncRunner := controller.NewRunner("backup-sync", backupSync)
	backupSync.Register(syncRunner, v1.Backups().Informer())
	runners = append(runners, syncRunner)

	// Every kind the server serves is watched, so that "caches synced" means the
	// server has seen the whole state of its namespace.
	synced := []cache.InformerSynced{
		v1.Backups().Informer().HasSynced,
		v1.Restores().Informer().HasSynced,
		v1.Schedules().Informer().HasSynced,
		v1.DownloadRequests().Informer().HasSynced,
		v1.DeleteBackupRequests().Informer().HasSynced,
		v1.Configs().Informer().HasSynced,
	}
	informers.Start(ctx.Done())
	defer informers.Shutdown()
	syncCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if !cache.WaitForCacheSync(syncCtx.Done(), synced...) {
		if ctx.Err() != nil {
			return nil
		}
		return errors.New("the informer caches did not sync within 2m: are the ark CRDs installed (examples/common/00-prereqs.yaml)?")
	}

	ready := newReadiness()
	httpDone := o.serveHTTP(ctx, newHTTPHandler(ready, serverMetrics.Handler(), storage.downloadHandler))
	if err := ready.checkBucket(ctx, storage.backups); err != nil {
		logger.Error(err, "The bucket does not answer; /readyz says so until it does")
		go wait.UntilWithContext(ctx, func(ctx context.Context) {
			if ready.check() != nil {
				_ = ready.checkBucket(ctx, storage.backups)
			}
		}, 30*time.Second)
	}

	// lead runs the controllers; with leader election only while this server
	// holds the lease.
	lead := func(ctx context.Context) error {
		logger := klog.FromContext(ctx)
		// Backups a previous server left InProgress take the status the bucket
		// records (whole: Completed or PartiallyFailed), or Failed; while the bucket
		// does not answer they stay InProgress and this is retried.
		if interrupted, err := backupController.InterruptedBackups(); err != nil {
			logger.Error(err, "Listing interrupted backups")
		} else if len(interrupted) > 0 {
			go func() {
				_ = wait.ExponentialBackoffWithContext(ctx, wait.Backoff{Duration: time.Second, Factor: 2, Cap: time.Minute, Steps: math.MaxInt32},
					func(ctx context.Context) (bool, error) {
						left, err := backupController.RecoverInterrupted(ctx, interrupted)
						if err != nil {
							logger.Error(err, "Settling backups interrupted by a restart; retrying", "left", len(left))
						}
						interrupted = left
						return len(left) == 0, nil
					})
			}()
		}
		if err := restoreController.FailInterrupted(ctx); err != nil {
			logger.Error(err, "Marking interrupted restores as Failed")
		}

		names := make([]string, 0, len(runners))
		for _, r := range runners {
			names = append(names, r.Name())
		}
		logger.Info("Caches synced; running controllers", "controllers", names)

		done := make(chan error, len(runners))
		for _, r := range runners {
			workers := o.Workers
			switch r {
			case backupRunner:
				workers = o.BackupWorkers
			case restoreRunner:
				workers = o.RestoreWorkers
			}
			go func() { done <- r.Run(ctx, workers) }()
		}
		// Ticks come from each schedule's requeue; this is only the safety resync.
		go wait.UntilWithContext(ctx, func(context.Context) { scheduleController.EnqueueAll(scheduleRunner) }, cfg.EffectiveScheduleSyncPeriod())
		<-ctx.Done()
		logger.Info("Shutting down the controllers")
		deadline := time.After(o.ShutdownTimeout)
		for range runners {
			select {
			case err := <-done:
				if err != nil {
					logger.Error(err, "Controller stopped with an error")
				}
			case <-deadline:
				return fmt.Errorf("controllers did not stop within %s", o.ShutdownTimeout)
			}
		}
		return nil
	}
	if o.LeaderElect {
		err = leaderelection.Run(ctx, leaderelection.Config{
			Client:        kubeClient,
			Namespace:     f.Namespace(),
			Name:          leaderelection.DefaultLeaseName,
			LeaseDuration: o.LeaseDuration,
			RenewDeadline: o.RenewDeadline,
			RetryPeriod:   o.RetryPeriod,
		}, lead)
	} else {
		err = lead(ctx)
	}
	if errors.Is(context.Cause(ctx), errConfigChanged) {
		logger.Info("The Config changed; stopping so that the server starts again with it")
	}
	logger.Info("Shutting down")
	stopOnConfigChange(nil) // stops the HTTP listener when the lease was lost
	<-httpDone
	logger.Info("Stopped")
	klog.Flush()
	if err != nil {
		return err
	}
	if errors.Is(context.Cause(ctx), errConfigChanged) {
		return errConfigChanged
	}
	return nil
}

var errConfigChanged = errors.New("the Config changed: restart the server to use it")

// resolver adapts the discovery helper to controller.ResourceResolver.
type resolver struct{ h *discovery.Helper }

func (r resolver) Refresh(ctx context.Context) error { return r.h.Refresh(ctx) }
func (r resolver) ResolveResource(name string) error {
	_, _, err := r.h.ResolveResource(name)
	return err
}
func (r resolver) ResourceNames() []string { return r.h.ResourceNames() }

// serveHTTP runs the server's HTTP listener until ctx is done; the returned
// channel closes once it has stopped.
func (o *Options) serveHTTP(ctx context.Context, handler http.Handler) <-chan struct{} {
	done := make(chan struct{})
	if o.HTTPAddress == "" {
		close(done)
		return done
	}
	srv := &http.Server{Addr: o.HTTPAddress, Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	logger := klog.FromContext(ctx)
	go func() {
		defer close(done)
		go func() {
			<-ctx.Done()
			shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(shutdownCtx)
		}()
		logger.Info("Serving HTTP", "address", o.HTTPAddress)
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error(err, "HTTP listener stopped")
		}
	}()
	return done
}

// registerTolerantInformers makes the factory's informers of every ark kind
// decode item by item (package tolerant): an object that cannot be decoded
// is logged, gets a Warning Event, and is left out of the caches, while every
// other object is served. The generated listers read these informers.
func registerTolerantInformers(ctx context.Context, factory arkinformers.SharedInformerFactory, client dynamic.Interface, namespace string, events record.EventRecorder) {
	logger := klog.FromContext(ctx)
	report := func(b tolerant.BadObject) {
		logger.Error(b.Err, "Skipping an object that cannot be decoded; fix or delete it", "kind", b.Ref.Kind,
			"object", klog.KRef(b.Ref.Namespace, b.Ref.Name), "resourceVersion", b.Ref.ResourceVersion)
		ref := b.Ref
		events.Eventf(&ref, corev1.EventTypeWarning, "Undecodable", "The ark server cannot read this %s and ignores it: %v. Fix it (kubectl edit) or delete it.", b.Ref.Kind, b.Err)
	}
	register := func(example runtime.Object, newInformer func() cache.SharedIndexInformer) {
		factory.InformerFor(example, func(arkclient.Interface, time.Duration) cache.SharedIndexInformer { return newInformer() })
	}
	register(&arkv1.Backup{}, func() cache.SharedIndexInformer {
		return tolerant.NewInformer[*arkv1.Backup](client, tolerant.Resource("Backup"), namespace, 0, report)
	})
	register(&arkv1.Restore{}, func() cache.SharedIndexInformer {
		return tolerant.NewInformer[*arkv1.Restore](client, tolerant.Resource("Restore"), namespace, 0, report)
	})
	register(&arkv1.Schedule{}, func() cache.SharedIndexInformer {
		return tolerant.NewInformer[*arkv1.Schedule](client, tolerant.Resource("Schedule"), namespace, 0, report)
	})
	register(&arkv1.Config{}, func() cache.SharedIndexInformer {
		return tolerant.NewInformer[*arkv1.Config](client, tolerant.Resource("Config"), namespace, 0, report)
	})
	register(&arkv1.DownloadRequest{}, func() cache.SharedIndexInformer {
		return tolerant.NewInformer[*arkv1.DownloadRequest](client, tolerant.Resource("DownloadRequest"), namespace, 0, report)
	})
	register(&arkv1.DeleteBackupRequest{}, func() cache.SharedIndexInformer {
		return tolerant.NewInformer[*arkv1.DeleteBackupRequest](client, tolerant.Resource("DeleteBackupRequest"), namespace, 0, report)
	})
}
