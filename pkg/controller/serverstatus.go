package controller

import (
	"context"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	arkv1client "github.com/heptio/ark/pkg/generated/clientset/versioned/typed/ark/v1"
	arkinformers "github.com/heptio/ark/pkg/generated/informers/externalversions/ark/v1"
	arklisters "github.com/heptio/ark/pkg/generated/listers/ark/v1"
)

// ServerStatusTTL is how long an answered ServerStatusRequest is kept before
// the server deletes it.
const ServerStatusTTL = time.Minute

// ServerVersion is what the server reports about itself.
type ServerVersion struct {
	Version   string
	GitCommit string
}

// ServerStatusRequestController answers ServerStatusRequests with the
// server's version (`ark version`) and deletes them ServerStatusTTL later.
type ServerStatusRequestController struct {
	requests arklisters.ServerStatusRequestLister
	client   arkv1client.ServerStatusRequestsGetter
	version  ServerVersion
	clock    clock.PassiveClock
}

// NewServerStatusRequestController returns the controller; Register it with a Runner.
func NewServerStatusRequestController(requests arklisters.ServerStatusRequestLister, client arkv1client.ServerStatusRequestsGetter, version ServerVersion, clk clock.PassiveClock, _ ...Option) *ServerStatusRequestController {
	return &ServerStatusRequestController{requests: requests, client: client, version: version, clock: clk}
}

// Register makes r run the controller on every server status request.
func (c *ServerStatusRequestController) Register(r *Runner, inf arkinformers.Interface) error {
	return r.Watch(inf.ServerStatusRequests().Informer(), nil, false)
}

// Sync answers a new request, or deletes one answered ServerStatusTTL ago.
func (c *ServerStatusRequestController) Sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	cached, err := c.requests.ServerStatusRequests(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	now := c.clock.Now()
	if at := cached.Status.ProcessedTimestamp; at != nil {
		if left := at.Add(ServerStatusTTL).Sub(now); left > 0 {
			return left, nil
		}
		err := c.client.ServerStatusRequests(ns).Delete(ctx, name, metav1.DeleteOptions{})
		if apierrors.IsNotFound(err) {
			err = nil
		}
		return 0, err
	}
	req := cached.DeepCopy()
	processed := metav1.NewTime(now)
	req.Status = arkv1.ServerStatusRequestStatus{
		Phase:              arkv1.ServerStatusRequestPhaseProcessed,
		ServerVersion:      c.version.Version,
		GitCommit:          c.version.GitCommit,
		ProcessedTimestamp: &processed,
	}
	if _, err := c.client.ServerStatusRequests(ns).UpdateStatus(ctx, req, metav1.UpdateOptions{}); err != nil {
		return 0, ignoreConflict(err)
	}
	return ServerStatusTTL, nil
}
