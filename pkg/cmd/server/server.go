// Package server is `ark server`: it builds the clients and informers, runs the
// controllers, and stops cleanly on SIGTERM or SIGINT.
package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/heptio/ark/pkg/buildinfo"
	"github.com/heptio/ark/pkg/client"
	"github.com/heptio/ark/pkg/controller"
	arkinformers "github.com/heptio/ark/pkg/generated/informers/externalversions"
)

// Options are the flags of `ark server`.
type Options struct {
	ClientQPS       float32
	ClientBurst     int
	Workers         int
	ShutdownTimeout time.Duration
}

// NewCommand returns `ark server`.
func NewCommand(f client.Factory) *cobra.Command {
	o := &Options{ClientQPS: 100, ClientBurst: 200, Workers: 1, ShutdownTimeout: 30 * time.Second}
	c := &cobra.Command{
		Use:   "server",
		Short: "Run the ark server",
		Long: `Runs the ark controllers against the cluster: in the cluster (as examples/common/10-deployment.yaml
does) or outside it with --kubeconfig. It stops cleanly on SIGTERM or SIGINT.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(c.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			client.SetClientRateLimits(f, o.ClientQPS, o.ClientBurst)
			return o.Run(ctx, f)
		},
	}
	o.BindFlags(c)
	return c
}

// BindFlags adds the server's flags, klog's -v among them.
func (o *Options) BindFlags(c *cobra.Command) {
	flags := c.Flags()
	flags.Float32Var(&o.ClientQPS, "client-qps", o.ClientQPS, "Queries per second the server may send to the Kubernetes API server.")
	flags.IntVar(&o.ClientBurst, "client-burst", o.ClientBurst, "Burst of queries the server may send to the Kubernetes API server above --client-qps.")
	flags.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", o.ShutdownTimeout, "How long to wait for controllers to stop after SIGTERM.")
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	for _, name := range []string{"v", "vmodule"} {
		flags.AddGoFlag(klogFlags.Lookup(name))
	}
}

// Run runs the server until ctx is done.
func (o *Options) Run(ctx context.Context, f client.Factory) error {
	logger := klog.FromContext(ctx).WithValues("namespace", f.Namespace())
	ctx = klog.NewContext(ctx, logger)
	logger.Info("Starting ark server", "version", buildinfo.Version, "gitCommit", buildinfo.GitSHA)

	arkClient, err := f.ArkClient()
	if err != nil {
		return err
	}
	informers := arkinformers.NewSharedInformerFactoryWithOptions(arkClient, 0, arkinformers.WithNamespace(f.Namespace()))
	// Every kind the server serves is watched, so that "caches synced" means the
	// server has seen the whole state of its namespace.
	v1 := informers.Ark().V1()
	synced := []func() bool{
		v1.Backups().Informer().HasSynced,
		v1.Restores().Informer().HasSynced,
		v1.Schedules().Informer().HasSynced,
		v1.DownloadRequests().Informer().HasSynced,
		v1.Configs().Informer().HasSynced,
	}

	var runners []*controller.Runner

	informers.Start(ctx.Done())
	defer informers.Shutdown()
	waitCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for _, s := range synced {
		for !s() {
			select {
			case <-waitCtx.Done():
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("the informer caches did not sync within 2m: are the ark CRDs installed (examples/common/00-prereqs.yaml)?")
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	names := make([]string, 0, len(runners))
	for _, r := range runners {
		names = append(names, r.Name())
	}
	if len(names) == 0 {
		logger.Info("Caches synced; no controllers are built yet, so the server only watches")
	} else {
		logger.Info("Caches synced; running controllers", "controllers", names)
	}

	done := make(chan error, len(runners))
	for _, r := range runners {
		go func() { done <- r.Run(ctx, o.Workers) }()
	}
	<-ctx.Done()
	logger.Info("Shutting down")
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
	logger.Info("Stopped")
	klog.Flush()
	_ = os.Stderr.Sync()
	return nil
}
