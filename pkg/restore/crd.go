package restore

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
)

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// DynamicCRDWaiter polls CRDs through a dynamic client.
type DynamicCRDWaiter struct {
	client   dynamic.Interface
	interval time.Duration
}

// NewDynamicCRDWaiter returns a CRDWaiter that gets the CRD every interval.
func NewDynamicCRDWaiter(client dynamic.Interface, interval time.Duration) *DynamicCRDWaiter {
	return &DynamicCRDWaiter{client: client, interval: interval}
}

// WaitEstablished returns when the CRD's Established condition is True, or
// fails when its NamesAccepted condition is False or ctx is done.
func (w *DynamicCRDWaiter) WaitEstablished(ctx context.Context, name string) error {
	var last string
	err := wait.PollUntilContextCancel(ctx, w.interval, true, func(ctx context.Context) (bool, error) {
		crd, err := w.client.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			last = "not found"
			return false, nil
		}
		if err != nil {
			last = err.Error()
			return false, nil
		}
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, c := range conds {
			m, ok := c.(map[string]any)
			if !ok {
				continue
			}
			switch {
			case m["type"] == "Established" && m["status"] == "True":
				return true, nil
			case m["type"] == "NamesAccepted" && m["status"] == "False":
				return false, fmt.Errorf("CRD %s: names not accepted: %v", name, m["message"])
			}
		}
		last = "not Established yet"
		return false, nil
	})
	if err != nil && ctx.Err() != nil && last != "" {
		return fmt.Errorf("waiting for CRD %s: %s: %w", name, last, err)
	}
	return err
}

// waitForCRDs waits for the CRDs restored (or found existing) to be
// Established and their resources served by discovery, which is refreshed.
// A CRD that does not get there is an error; its objects then fail as not
// served.
func (s *run) waitForCRDs(ctx context.Context) {
	s.crdMu.Lock()
	crds := s.crds
	s.crdMu.Unlock()
	if len(crds) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.CRDTimeout)
	defer cancel()
	s.log.Info("waiting for CRDs", "count", len(crds))
	var pending []restoredCRD
	for _, c := range crds {
		if err := s.opts.CRDWaiter.WaitEstablished(ctx, c.ref.Name); err != nil {
			s.col.error("", "%s: not Established: %v", c.ref, err)
			s.log.Item(slog.LevelError, "CRD not Established", c.ref.Resource, c.ref.Namespace, c.ref.Name, "error", err.Error())
			continue
		}
		pending = append(pending, c)
	}
	if len(pending) == 0 {
		return
	}
	served := func() []restoredCRD {
		var missing []restoredCRD
		for _, c := range pending {
			if _, _, err := s.discovery.ResolveResource(c.resource); err != nil {
				missing = append(missing, c)
			}
		}
		return missing
	}
	var missing []restoredCRD
	err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		if err := s.discovery.Refresh(ctx); err != nil {
			s.log.Debug("discovery refresh failed", "error", err.Error())
			return false, nil
		}
		missing = served()
		return len(missing) == 0, nil
	})
	if err != nil {
		for _, c := range missing {
			s.col.error("", "%s: resource %s not served by discovery after %v", c.ref, c.resource, s.opts.CRDTimeout)
			s.log.Item(slog.LevelError, "CRD resource not served", c.ref.Resource, c.ref.Namespace, c.ref.Name, "crdResource", c.resource)
		}
		return
	}
	s.log.Info("CRDs established and served", "count", len(pending))
}

// waitForQuotas waits for the ResourceQuotas restored (or found existing) to
// have a status: until the quota controller has computed a quota's usage,
// the ResourceQuota admission plugin rejects every object the quota covers
// ("status unknown for quota"). A quota that gets none within CRDTimeout is
// a warning; the objects it covers may then fail.
func (s *run) waitForQuotas(ctx context.Context) {
	s.quotaMu.Lock()
	quotas := s.quotas
	s.quotaMu.Unlock()
	if len(quotas) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.CRDTimeout)
	defer cancel()
	s.log.Info("waiting for resource quotas to have a status", "count", len(quotas))
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "resourcequotas"}
	for _, q := range quotas {
		err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			o, err := s.Restorer.client.Resource(gvr).Namespace(q.Namespace).Get(ctx, q.Name, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			hard, _, _ := unstructured.NestedMap(o.Object, "status", "hard")
			return len(hard) > 0, nil
		})
		if err != nil {
			s.col.warn(q.Namespace, "%s: the quota controller gave it no status within %s: objects it covers may be rejected", q, s.opts.CRDTimeout)
			s.log.Item(slog.LevelWarn, "resource quota without status", q.Resource, q.Namespace, q.Name, "error", err.Error())
		}
	}
}
