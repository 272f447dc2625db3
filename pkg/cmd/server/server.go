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
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/authz"
	"github.com/heptio/ark/pkg/backup"
	"github.com/heptio/ark/pkg/buildinfo"
	"github.com/heptio/ark/pkg/client"
	"github.com/heptio/ark/pkg/controller"
	"github.com/heptio/ark/pkg/discovery"
	arkclient "github.com/heptio/ark/pkg/generated/clientset/versioned"
	arkscheme "github.com/heptio/ark/pkg/generated/clientset/versioned/scheme"
	arkinformers "github.com/heptio/ark/pkg/generated/informers/externalversions"
	arkv1informers "github.com/heptio/ark/pkg/generated/informers/externalversions/ark/v1"
	"github.com/heptio/ark/pkg/leaderelection"
	"github.com/heptio/ark/pkg/metrics"
	"github.com/heptio/ark/pkg/restore"
	"github.com/heptio/ark/pkg/tolerant"
	"github.com/heptio/ark/pkg/verify"
	"github.com/heptio/ark/pkg/volume"
)

// Options are the flags of `ark server`.
type Options struct {
	ClientQPS       float32
	ClientBurst     int
	ShutdownTimeout time.Duration
	HTTPAddress     string
	// Profiling serves Go's runtime profiles on the HTTP listener.
	Profiling bool
	PageSize  int64
	// Workers is how many keys each controller handles at once, by controller
	// name (the flags --<name>-workers; see controllers).
	Workers map[string]int
	// RestoreItemWorkers is how many objects one restore creates at once.
	RestoreItemWorkers int
	LogLevel           string
	LogFormat          string

	// LeaderElect runs the controllers only while this server holds the
	// Lease "ark" in its namespace, so that one replica is active.
	LeaderElect   bool
	LeaseDuration time.Duration
	RenewDeadline time.Duration
	RetryPeriod   time.Duration

	// SingleTenant makes the server act as itself for everyone, as before
	// requesters existed (package authz, Tenancy).
	SingleTenant bool
}

// The server's client-side rate limit. By default there is none (QPS < 0, as
// client-go reads it): the API server sets the pace. API Priority and Fairness
// (on by default since Kubernetes 1.20, GA in 1.29) queues the server's
// requests in its own flow and answers 429 with Retry-After when its share is
// full; client-go waits that long and retries (up to 10 times per request).
// The server's own concurrency is bounded anyway: --restore-item-workers
// creates per restore, one list at a time per backup, and its controllers'
// --<name>-workers. A fixed client QPS (client-go's default 5, or the former
// 100 here) only slows a restore of many objects (5,000 ConfigMaps: 48 s at
// QPS 100 against 4 s raw) and protects nothing that APF does not already
// protect.
const (
	DefaultClientQPS   float32 = -1
	DefaultClientBurst         = 200
)

// controllers are the server's queue-driven controllers, in the order they
// start: the name of each (its runner's, and its flag --<name>-workers), how
// many keys it handles at once by default, and what one key is. The backup
// sync has no queue: it is one periodic pass (Runner.Every), so it has no
// workers to count.
var controllers = []struct {
	name           string
	defaultWorkers int
	what           string
}{
	// Several backups and restores at once: a slow backup does not hold back
	// the backups of other schedules; each operation keeps its own state, log
	// and tarball.
	{"backup", 4, "backups run"},
	{"restore", 4, "restores run"},
	{"download-request", 1, "download requests are answered"},
	{"server-status-request", 1, "server status requests (ark version) are answered"},
	{"schedule", 1, "schedules are checked"},
	{"gc", 1, "backups are checked for expiry"},
	{"backup-deletion", 1, "DeleteBackupRequests are carried out"},
	{"backup-verification", 1, "BackupVerificationRequests are answered"},
}

// DefaultGCPercent is the server's garbage-collection target unless the
// GOGC environment variable sets one: the heap may grow 50% over what is
// live between collections, not Go's default 100%. A restore's garbage (one
// decoded object per create) then costs less memory at its peak (a restore of
// 100,000 objects indexes them all) for a little more CPU.
const DefaultGCPercent = 50

// downloadPath is where the filesystem provider's signed URLs are served.
const downloadPath = "/download"

// NewOptions returns the default options.
func NewOptions() *Options {
	o := &Options{ClientQPS: DefaultClientQPS, ClientBurst: DefaultClientBurst, ShutdownTimeout: 30 * time.Second, HTTPAddress: ":8085", PageSize: 500,
		Workers: map[string]int{}, RestoreItemWorkers: restore.DefaultWorkers, LogLevel: "info", LogFormat: "text",
		LeaderElect: true, LeaseDuration: leaderelection.DefaultLeaseDuration, RenewDeadline: leaderelection.DefaultRenewDeadline, RetryPeriod: leaderelection.DefaultRetryPeriod}
	for _, c := range controllers {
		o.Workers[c.name] = c.defaultWorkers
	}
	return o
}

// NewCommand returns `ark server`.
func NewCommand(f client.Factory) *cobra.Command {
	o := NewOptions()
	c := &cobra.Command{
		Use:   "server",
		Short: "Run the ark server",
		Long: `Runs the ark controllers against the cluster: in the cluster (as examples/common/10-deployment.yaml
does) or outside it with --kubeconfig. It stops cleanly on SIGTERM or SIGINT.`,
		// The flag checks are Args': a wrong command line is a usage error (exit 2).
		Args: func(c *cobra.Command, args []string) error {
			if err := cobra.NoArgs(c, args); err != nil {
				return err
			}
			return o.Validate()
		},
		RunE: func(c *cobra.Command, _ []string) error {
			if err := configureLogging(o.LogLevel, o.LogFormat, c.ErrOrStderr()); err != nil {
				return err
			}
			if os.Getenv("GOGC") == "" {
				debug.SetGCPercent(DefaultGCPercent)
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
	flags.BoolVar(&o.Profiling, "profiling", o.Profiling, "Serve Go's runtime profiles (CPU, heap, goroutines) under /debug/pprof/ on the --metrics-address listener. Off by default: the profiles tell anyone who reaches the listener about the server's work.")
	for _, ctrl := range controllers {
		flags.Var(workersValue{o.Workers, ctrl.name}, ctrl.name+"-workers", fmt.Sprintf("How many %s at the same time (the %s controller's workers).", ctrl.what, ctrl.name))
	}
	flags.IntVar(&o.RestoreItemWorkers, "restore-item-workers", o.RestoreItemWorkers, "How many objects one restore creates in parallel, within a group of resources restored together (the resources its priorities leave unordered; each prerequisite such as CRDs, namespaces, service accounts is a group of its own).")
	flags.Int64Var(&o.PageSize, "page-size", o.PageSize, "How many objects a backup asks the API server for in one list request.")
	flags.BoolVar(&o.LeaderElect, "leader-elect", o.LeaderElect, "Run the controllers only while holding the Lease \"ark\" in the server's namespace, so that one of several replicas is active; losing it stops the server (exit 1). Disable only when a single server runs.")
	flags.DurationVar(&o.LeaseDuration, "leader-elect-lease-duration", o.LeaseDuration, "How long a standby server waits after the last renewal before taking the lease over.")
	flags.DurationVar(&o.RenewDeadline, "leader-elect-renew-deadline", o.RenewDeadline, "How long the leader keeps trying to renew the lease before it stops.")
	flags.DurationVar(&o.RetryPeriod, "leader-elect-retry-period", o.RetryPeriod, "How often the lease is tried or renewed.")
	flags.BoolVar(&o.SingleTenant, "single-tenant", o.SingleTenant, "Act with the server's own permissions for everyone: backups list, restores write, hooks exec and downloads are granted as the server's ServiceAccount, whoever asked, and objects without a recorded requester are accepted. Off (the default), the server acts as each object's requester (impersonation, checked first with SubjectAccessReviews): see the README, \"Security\".")
	flags.StringVar(&o.LogLevel, "log-level", o.LogLevel, "Least important log lines to write: debug, info, warning or error.")
	flags.StringVar(&o.LogFormat, "log-format", o.LogFormat, "Format of the log: text or json (one object per line).")
}

// workersValue is the flag --<name>-workers: the entry name of a map.
type workersValue struct {
	m    map[string]int
	name string
}

func (v workersValue) String() string { return strconv.Itoa(v.m[v.name]) }
func (v workersValue) Type() string   { return "int" }
func (v workersValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return err
	}
	v.m[v.name] = n
	return nil
}

// Validate checks the numbers of workers and the log flags.
func (o *Options) Validate() error {
	if err := checkLogging(o.LogLevel, o.LogFormat); err != nil {
		return err
	}
	for _, c := range controllers {
		if n := o.Workers[c.name]; n < 1 {
			return fmt.Errorf("--%s-workers must be at least 1, not %d", c.name, n)
		}
	}
	if o.RestoreItemWorkers < 1 {
		return fmt.Errorf("--restore-item-workers must be at least 1, not %d", o.RestoreItemWorkers)
	}
	return nil
}

// Run runs the server until ctx is done: clients, the Config, the stores
// (bucket, volume snapshots), the controllers on their informers, the HTTP
// listener, then the controllers run while this server leads.
func (o *Options) Run(ctx context.Context, f client.Factory) error {
	logger := klog.FromContext(ctx).WithValues("namespace", f.Namespace())
	ctx = klog.NewContext(ctx, logger)
	logger.Info("Starting ark server", "version", buildinfo.Version, "gitCommit", buildinfo.GitSHA)

	c, err := newClients(f)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(ctx, c.ark, c.namespace)
	if err != nil {
		return err
	}
	st, err := o.newStores(ctx, cfg, c)
	if err != nil {
		return err
	}

	// A change of the Config stops the server; its Deployment starts it again with the new one.
	ctx, stopOnConfigChange := context.WithCancelCause(ctx)
	defer stopOnConfigChange(nil)
	events, stopEvents := newEventRecorder(ctx, c)
	defer stopEvents()
	informers, err := newInformers(ctx, c, events, func() { stopOnConfigChange(errConfigChanged) })
	if err != nil {
		return err
	}

	serverMetrics := metrics.New()
	// Every controller's work queue reports depth, latency and retries on /metrics.
	workqueue.SetProvider(serverMetrics.WorkqueueMetricsProvider())
	ctrls, err := o.newControllers(ctx, c, cfg, st, informers.Ark().V1(), events, serverMetrics)
	if err != nil {
		return err
	}

	informers.Start(ctx.Done())
	defer informers.Shutdown()
	if err := waitForCaches(ctx, informers.Ark().V1()); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}

	httpDone := o.startHTTP(ctx, st, serverMetrics)

	if o.LeaderElect {
		err = leaderelection.Run(ctx, leaderelection.Config{
			Client:        c.kube,
			Namespace:     c.namespace,
			Name:          leaderelection.DefaultLeaseName,
			LeaseDuration: o.LeaseDuration,
			RenewDeadline: o.RenewDeadline,
			RetryPeriod:   o.RetryPeriod,
		}, func(ctx context.Context) error { return ctrls.run(ctx, o.ShutdownTimeout) })
	} else {
		err = ctrls.run(ctx, o.ShutdownTimeout)
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

// clients are the server's API clients, all on one REST config.
type clients struct {
	namespace  string
	restConfig *rest.Config
	ark        arkclient.Interface
	kube       kubernetes.Interface
	dynamic    dynamic.Interface
}

func newClients(f client.Factory) (*clients, error) {
	restConfig, err := f.ClientConfig()
	if err != nil {
		return nil, err
	}
	c := &clients{namespace: f.Namespace(), restConfig: restConfig}
	if c.ark, err = arkclient.NewForConfig(restConfig); err != nil {
		return nil, err
	}
	if c.kube, err = kubernetes.NewForConfig(restConfig); err != nil {
		return nil, err
	}
	if c.dynamic, err = dynamic.NewForConfig(restConfig); err != nil {
		return nil, err
	}
	return c, nil
}

// stores are where backups go: the bucket and, if configured, the volume
// snapshots (Config.persistentVolumeProvider: aws, gcp, azure or csi). With
// no volume provider, backups record a warning per volume, restores of
// backups with snapshots fail for those volumes unless restorePVs is false,
// and gc finds no snapshot to delete.
type stores struct {
	*objectStorage
	snapshotter     backup.VolumeSnapshotter
	volumeRestorer  restore.VolumeRestorer
	snapshotDeleter controller.SnapshotDeleter
}

func (o *Options) newStores(ctx context.Context, cfg *arkv1.Config, c *clients) (*stores, error) {
	logger := klog.FromContext(ctx)
	storage, err := newObjectStorage(ctx, cfg, o.HTTPAddress)
	if err != nil {
		return nil, err
	}
	keys, err := loadKeyring(ctx, c.kube.CoreV1(), c.namespace, cfg)
	if err != nil {
		return nil, err
	}
	storage.backups.SetKeyring(keys)
	logger.Info("Using object storage", "provider", cfg.BackupStorageProvider.Name, "bucket", cfg.BackupStorageProvider.Bucket, "restoreOnlyMode", cfg.RestoreOnlyMode)
	// Backups extracted by restores that a crash interrupted hold Secrets at rest.
	if n, err := restore.RemoveStaleSpools(""); err != nil {
		logger.Error(err, "Removing the extraction directories of interrupted restores", "removed", n)
	} else if n > 0 {
		logger.Info("Removed the extraction directories of interrupted restores", "removed", n)
	}
	st := &stores{objectStorage: storage}
	volumes, err := volume.New(ctx, cfg.PersistentVolumeProvider, volume.Options{Dynamic: c.dynamic})
	if err != nil {
		return nil, fmt.Errorf("persistentVolumeProvider: %w", err)
	}
	if volumes != nil {
		st.snapshotter, st.volumeRestorer, st.snapshotDeleter = volumes.Snapshotter, volumes.Restorer, volumes.Deleter
		logger.Info("Using persistent volume provider", "provider", volumes.Name)
	}
	return st, nil
}

// newEventRecorder records Events on schedules and backups (kubectl describe
// shows them); stop flushes and stops it.
func newEventRecorder(ctx context.Context, c *clients) (record.EventRecorder, func()) {
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.kube.CoreV1().Events(c.namespace)})
	return broadcaster.NewRecorder(arkscheme.Scheme, corev1.EventSource{Component: "ark-server"}), broadcaster.Shutdown
}

// newInformers returns the informers of the server's namespace, decoding item
// by item (registerTolerantInformers); configChanged is called when the
// Config's spec changes.
func newInformers(ctx context.Context, c *clients, events record.EventRecorder, configChanged func()) (arkinformers.SharedInformerFactory, error) {
	informers := arkinformers.NewSharedInformerFactoryWithOptions(c.ark, 0, arkinformers.WithNamespace(c.namespace))
	registerTolerantInformers(ctx, informers, c.dynamic, c.namespace, events)
	if _, err := informers.Ark().V1().Configs().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(old, cur any) {
			o, c := old.(*arkv1.Config), cur.(*arkv1.Config)
			if c.Name == arkv1.DefaultConfigName && o.ResourceVersion != c.ResourceVersion && o.Generation != c.Generation {
				configChanged()
			}
		},
	}); err != nil {
		return nil, err
	}
	return informers, nil
}

// waitForCaches waits, up to 2 minutes, until the cache of every kind the
// server serves is synced, so that "caches synced" means the server has seen
// the whole state of its namespace.
func waitForCaches(ctx context.Context, v1 arkv1informers.Interface) error {
	synced := []cache.InformerSynced{
		v1.Backups().Informer().HasSynced,
		v1.Restores().Informer().HasSynced,
		v1.Schedules().Informer().HasSynced,
		v1.DownloadRequests().Informer().HasSynced,
		v1.DeleteBackupRequests().Informer().HasSynced,
		v1.BackupVerificationRequests().Informer().HasSynced,
		v1.Configs().Informer().HasSynced,
		v1.ServerStatusRequests().Informer().HasSynced,
	}
	syncCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if !cache.WaitForCacheSync(syncCtx.Done(), synced...) {
		return errors.New("the informer caches did not sync within 2m: are the ark CRDs installed (examples/common/00-prereqs.yaml)?")
	}
	return nil
}

// startHTTP starts the HTTP listener (metrics, health, downloads) and the
// bucket's readiness check; the returned channel closes once it has stopped.
func (o *Options) startHTTP(ctx context.Context, st *stores, serverMetrics *metrics.Metrics) <-chan struct{} {
	ready := newReadiness()
	done := o.serveHTTP(ctx, newHTTPHandler(ready, serverMetrics.Handler(), st.downloadHandler, o.Profiling))
	if err := ready.checkBucket(ctx, st.backups); err != nil {
		klog.FromContext(ctx).Error(err, "The bucket does not answer; /readyz says so until it does")
		go wait.UntilWithContext(ctx, func(ctx context.Context) {
			if ready.check() != nil {
				_ = ready.checkBucket(ctx, st.backups)
			}
		}, 30*time.Second)
	}
	return done
}

// serverControllers are the controllers, registered with their runners.
type serverControllers struct {
	backup  *controller.BackupController
	restore *controller.RestoreController
	runners []*controller.Runner
	workers []int
}

// newControllers builds every controller and registers it with a runner.
// In restore-only mode the backup controller still runs, to give new backups
// a FailedValidation that says why instead of leaving them New; schedules are
// FailedValidation, saying why, and Enabled again once the mode is turned
// off; the gc controller only removes the finalizer of earlier versions; no
// DeleteBackupRequest is carried out (they wait, New). The backup sync only
// reads the bucket: it runs in every mode.
func (o *Options) newControllers(ctx context.Context, c *clients, cfg *arkv1.Config, st *stores, v1 arkv1informers.Interface, events record.EventRecorder, serverMetrics *metrics.Metrics) (*serverControllers, error) {
	logger := klog.FromContext(ctx)
	clk := clock.RealClock{}
	discoveryHelper := discovery.NewHelper(c.kube.Discovery())
	if err := discoveryHelper.Refresh(ctx); err != nil {
		logger.Error(err, "Discovery is incomplete; going on with what the API server answered")
	}
	podExec, err := backup.NewRemotePodCommandExecutor(c.restConfig)
	if err != nil {
		return nil, err
	}
	rawLister, err := backup.NewRESTRawLister(c.restConfig)
	if err != nil {
		return nil, err
	}
	opts := []controller.Option{controller.WithMetrics(serverMetrics), controller.WithEventRecorder(events)}
	// The cluster's identity, recorded in every backup's metadata: the UID of kube-system.
	if ns, err := c.kube.CoreV1().Namespaces().Get(ctx, metav1.NamespaceSystem, metav1.GetOptions{}); err != nil {
		logger.Error(err, "Reading the kube-system namespace; backups record no cluster identity (ownership goes by Backup UID alone)")
	} else {
		opts = append(opts, controller.WithClusterID(string(ns.UID)))
		logger.Info("Cluster identity", "clusterID", ns.UID)
	}

	tenancy := authz.NewTenancy(c.restConfig, c.kube.AuthorizationV1(), o.SingleTenant)
	if o.SingleTenant {
		logger.Info("Single-tenant mode: backups, restores, hooks and downloads act with the server's own permissions, whoever asked")
	} else {
		logger.Info("Multi-tenant mode: backups, restores, hooks and downloads act as their requester")
	}
	backupper := backup.NewBackupper(discoveryHelper, c.dynamic, podExec, st.snapshotter, clk,
		backup.WithPageSize(o.PageSize), backup.WithRawLister(rawLister), backup.WithActing(backupActing(tenancy)))
	restorer := restore.NewRestorer(discoveryHelper, c.dynamic, restore.Options{
		VolumeRestorer:     st.volumeRestorer,
		Workers:            o.RestoreItemWorkers,
		ResourcePriorities: cfg.EffectiveResourcePriorities(),
		Clock:              clk,
		Acting:             restoreActing(tenancy),
	})
	var downloads controller.DownloadAuthorizer
	if !o.SingleTenant {
		downloads = &authz.Downloads{Tenancy: tenancy, ResourceList: st.backups.GetBackupResourceList, Resource: kindResource(discoveryHelper)}
	}
	sc := &serverControllers{
		backup: controller.NewBackupController(v1.Backups().Lister(), c.ark.ArkV1(), backupper,
			resolver{discoveryHelper}, st.backups, clk, cfg.RestoreOnlyMode, opts...),
		restore: controller.NewRestoreController(v1.Restores().Lister(), v1.Backups().Lister(), c.ark.ArkV1(), restorer, st.backups, clk, opts...),
	}
	byName := map[string]controller.Controller{
		"backup":           sc.backup,
		"restore":          sc.restore,
		"download-request": controller.NewDownloadRequestController(v1.DownloadRequests().Lister(), v1.Restores().Lister(), c.ark.ArkV1(), st.backups, downloads, clk, opts...),
		"server-status-request": controller.NewServerStatusRequestController(v1.ServerStatusRequests().Lister(), c.ark.ArkV1(),
			controller.ServerVersion{Version: buildinfo.Version, GitCommit: buildinfo.GitSHA}, clk, opts...),
		"schedule": controller.NewScheduleController(v1.Schedules().Lister(), c.ark.ArkV1(), clk, cfg.EffectiveScheduleSyncPeriod(), cfg.RestoreOnlyMode, opts...),
		"gc": controller.NewGCController(v1.Backups().Lister(), v1.DeleteBackupRequests().Lister(), c.ark.ArkV1(), clk,
			cfg.EffectiveGCSyncPeriod(), cfg.RestoreOnlyMode, opts...),
	}
	if !cfg.RestoreOnlyMode {
		byName["backup-deletion"] = controller.NewDeletionController(v1.DeleteBackupRequests().Lister(), v1.Backups().Lister(), v1.Restores().Lister(),
			c.ark.ArkV1(), st.backups, st.snapshotDeleter, cfg.EffectiveGCSyncPeriod(), opts...)
	}
	// Verifications only read the bucket and the snapshots (and write the
	// Backup's status): they run in every mode.
	byName["backup-verification"] = controller.NewVerificationController(v1.BackupVerificationRequests().Lister(), v1.Backups().Lister(), c.ark.ArkV1(),
		verify.New(st.backups, st.snapshotDeleter, ""), clk, opts...)
	for _, ctrl := range controllers {
		if byName[ctrl.name] == nil {
			continue
		}
		r, err := controller.NewRunnerFor(ctrl.name, byName[ctrl.name], v1)
		if err != nil {
			return nil, err
		}
		sc.runners = append(sc.runners, r)
		sc.workers = append(sc.workers, o.Workers[ctrl.name])
	}
	backupSync := controller.NewBackupSyncController(v1.Backups().Lister(), c.ark.ArkV1(), st.backups, c.namespace, cfg.EffectiveBackupSyncPeriod(), opts...)
	r, err := controller.NewRunnerFor("backup-sync", backupSync, v1)
	if err != nil {
		return nil, err
	}
	sc.runners = append(sc.runners, r)
	sc.workers = append(sc.workers, 0)
	return sc, nil
}

// run settles what a previous server left running, then runs the controllers
// until ctx is done, and waits up to shutdownTimeout for them to stop.
func (sc *serverControllers) run(ctx context.Context, shutdownTimeout time.Duration) error {
	logger := klog.FromContext(ctx)
	// Backups a previous server left InProgress take the status the bucket
	// records (whole: Completed or PartiallyFailed), or Failed; while the bucket
	// does not answer they stay InProgress and this is retried.
	if interrupted, err := sc.backup.InterruptedBackups(); err != nil {
		logger.Error(err, "Listing interrupted backups")
	} else if len(interrupted) > 0 {
		go func() {
			_ = wait.ExponentialBackoffWithContext(ctx, wait.Backoff{Duration: time.Second, Factor: 2, Cap: time.Minute, Steps: math.MaxInt32},
				func(ctx context.Context) (bool, error) {
					left, err := sc.backup.RecoverInterrupted(ctx, interrupted)
					if err != nil {
						logger.Error(err, "Settling backups interrupted by a restart; retrying", "left", len(left))
					}
					interrupted = left
					return len(left) == 0, nil
				})
		}()
	}
	if err := sc.restore.FailInterrupted(ctx); err != nil {
		logger.Error(err, "Marking interrupted restores as Failed")
	}

	names := make([]string, 0, len(sc.runners))
	for _, r := range sc.runners {
		names = append(names, r.Name())
	}
	logger.Info("Caches synced; running controllers", "controllers", names)

	done := make(chan error, len(sc.runners))
	for i, r := range sc.runners {
		go func() { done <- r.Run(ctx, sc.workers[i]) }()
	}
	<-ctx.Done()
	logger.Info("Shutting down the controllers")
	deadline := time.After(shutdownTimeout)
	for range sc.runners {
		select {
		case err := <-done:
			if err != nil {
				logger.Error(err, "Controller stopped with an error")
			}
		case <-deadline:
			return fmt.Errorf("controllers did not stop within %s", shutdownTimeout)
		}
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
	register(&arkv1.ServerStatusRequest{}, func() cache.SharedIndexInformer {
		return tolerant.NewInformer[*arkv1.ServerStatusRequest](client, tolerant.Resource("ServerStatusRequest"), namespace, 0, report)
	})
	register(&arkv1.BackupVerificationRequest{}, func() cache.SharedIndexInformer {
		return tolerant.NewInformer[*arkv1.BackupVerificationRequest](client, tolerant.Resource("BackupVerificationRequest"), namespace, 0, report)
	})
}

// backupActing gives each backup the clients of whom tenancy acts as for it:
// its requester (impersonated) or the server.
func backupActing(tenancy *authz.Tenancy) func(*arkv1.Backup) (*backup.Acting, error) {
	return func(b *arkv1.Backup) (*backup.Acting, error) {
		actor, err := tenancy.ActorFor(b)
		if err != nil {
			return nil, err
		}
		cfg := actor.Config()
		client, err := dynamic.NewForConfig(cfg)
		if err != nil {
			return nil, err
		}
		raw, err := backup.NewRESTRawLister(cfg)
		if err != nil {
			return nil, err
		}
		exec, err := backup.NewRemotePodCommandExecutor(cfg)
		if err != nil {
			return nil, err
		}
		return &backup.Acting{Client: client, Raw: raw, PodExec: exec, Actor: actor}, nil
	}
}

// restoreActing gives each restore the client of whom tenancy acts as for
// it: its requester (impersonated) or the server.
func restoreActing(tenancy *authz.Tenancy) func(*arkv1.Restore) (dynamic.Interface, *authz.Actor, error) {
	return func(r *arkv1.Restore) (dynamic.Interface, *authz.Actor, error) {
		actor, err := tenancy.ActorFor(r)
		if err != nil {
			return nil, nil, err
		}
		client, err := dynamic.NewForConfig(actor.Config())
		if err != nil {
			return nil, nil, err
		}
		return client, actor, nil
	}
}

// kindResource maps a kind to its resource through discovery.
func kindResource(h *discovery.Helper) func(schema.GroupVersionKind) (schema.GroupResource, bool) {
	return func(gvk schema.GroupVersionKind) (schema.GroupResource, bool) {
		for _, r := range h.Resources() {
			if r.GVR.Group == gvk.Group && r.API.Kind == gvk.Kind {
				return r.GroupResource(), true
			}
		}
		return schema.GroupResource{}, false
	}
}
