package install

import (
	"context"
	"fmt"
	"io"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// FieldManager is the server-side-apply field manager of `ark install`: a
// second install changes only the fields it owns (and takes them back when
// someone else changed them), so installing again is safe.
const FieldManager = "ark-install"

var (
	crdGVR        = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	deploymentGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
)

// Client applies and deletes the rendered objects.
type Client struct {
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

// NewClient returns a Client for the cluster of cfg.
func NewClient(cfg *rest.Config) (*Client, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Client{dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))}, nil
}

// Apply server-side-applies objs in order (as Render returns them) and writes
// one line per object to out. After the CRDs it waits until they are
// Established, so that the Config that follows can be created.
func (c *Client) Apply(ctx context.Context, objs []*unstructured.Unstructured, out io.Writer) error {
	var crds []string
	for i, o := range objs {
		if o.GetKind() != "CustomResourceDefinition" && len(crds) > 0 {
			if err := c.waitEstablished(ctx, crds); err != nil {
				return err
			}
			crds = nil
		}
		if err := c.apply(ctx, o); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s/%s applied\n", o.GetKind(), o.GetName())
		if o.GetKind() == "CustomResourceDefinition" {
			crds = append(crds, o.GetName())
			if i == len(objs)-1 {
				return c.waitEstablished(ctx, crds)
			}
		}
	}
	return nil
}

func (c *Client) resource(o *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := o.GroupVersionKind()
	mapping, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		// A kind whose CRD was applied a moment ago.
		c.mapper.Reset()
		mapping, err = c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", gvk.Kind, o.GetName(), err)
	}
	ri := c.dyn.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		return ri.Namespace(o.GetNamespace()), nil
	}
	return ri, nil
}

func (c *Client) apply(ctx context.Context, o *unstructured.Unstructured) error {
	ri, err := c.resource(o)
	if err != nil {
		return err
	}
	data, err := o.MarshalJSON()
	if err != nil {
		return err
	}
	force := true
	if _, err := ri.Patch(ctx, o.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: FieldManager, Force: &force}); err != nil {
		return fmt.Errorf("applying %s %s: %w", o.GetKind(), key(o), err)
	}
	return nil
}

func (c *Client) waitEstablished(ctx context.Context, names []string) error {
	for _, name := range names {
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			crd, err := c.dyn.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			return condition(crd, "Established") == "True", nil
		})
		if err != nil {
			return fmt.Errorf("CRD %s is not Established: %w", name, err)
		}
	}
	c.mapper.Reset()
	return nil
}

// WaitReady waits until the server's Deployment in ns has an available
// replica (its pod passed /readyz: caches synced, bucket reachable) or timeout.
func (c *Client) WaitReady(ctx context.Context, ns string, timeout time.Duration) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		d, err := c.dyn.Resource(deploymentGVR).Namespace(ns).Get(ctx, DeploymentName, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		available, _, _ := unstructured.NestedInt64(d.Object, "status", "availableReplicas")
		if available > 0 {
			return true, nil
		}
		last = "no replica is available (Available: " + condition(d, "Available") + ")"
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("the ark server in %s is not ready after %s: %s; see `kubectl -n %s describe deployment %s` and its pod's log", ns, timeout, last, ns, DeploymentName)
	}
	return nil
}

// condition returns the status ("True", "False", "Unknown") of the
// condition of type t in o's status.conditions, or "".
func condition(o *unstructured.Unstructured, t string) string {
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if ok && m["type"] == t {
			s, _ := m["status"].(string)
			return s
		}
	}
	return ""
}

// Uninstall deletes what Render made, the server first (so that it does not
// act on the deletion of its objects), then the namespace with everything in
// it (Backup, Restore and Schedule objects included; deleting a Backup object
// never deletes its files), the cluster-scoped RBAC and, unless keepCRDs, the
// CRDs. The bucket is never touched. Objects already gone are skipped; one
// line per object goes to out.
func (c *Client) Uninstall(ctx context.Context, objs []*unstructured.Unstructured, keepCRDs bool, out io.Writer) error {
	order := func(kind string) int {
		switch kind {
		case "Deployment":
			return 0
		case "Namespace":
			return 2
		case "CustomResourceDefinition":
			return 3
		default:
			return 1
		}
	}
	for pass := 0; pass <= 3; pass++ {
		for _, o := range objs {
			if order(o.GetKind()) != pass || (keepCRDs && o.GetKind() == "CustomResourceDefinition") {
				continue
			}
			if o.GetNamespace() != "" && o.GetKind() != "Deployment" {
				continue // goes with its namespace
			}
			ri, err := c.resource(o)
			if meta.IsNoMatchError(err) {
				continue // its CRD is gone already
			}
			if err != nil {
				return err
			}
			// The Deployment goes in the foreground (its pods first) and is waited
			// for; the rest goes at once, the garbage collector taking dependents.
			policy := metav1.DeletePropagationBackground
			if o.GetKind() == "Deployment" {
				policy = metav1.DeletePropagationForeground
			}
			err = ri.Delete(ctx, o.GetName(), metav1.DeleteOptions{PropagationPolicy: &policy})
			switch {
			case apierrors.IsNotFound(err):
				fmt.Fprintf(out, "%s/%s not found\n", o.GetKind(), o.GetName())
				continue
			case err != nil:
				return fmt.Errorf("deleting %s %s: %w", o.GetKind(), key(o), err)
			}
			fmt.Fprintf(out, "%s/%s deleted\n", o.GetKind(), o.GetName())
			if o.GetKind() == "Deployment" {
				// Wait until the server's pods are gone, so that nothing acts on
				// what follows.
				if err := c.waitGone(ctx, ri, o.GetName()); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (c *Client) waitGone(ctx context.Context, ri dynamic.ResourceInterface, name string) error {
	return wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := ri.Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
}

func key(o *unstructured.Unstructured) string {
	if ns := o.GetNamespace(); ns != "" {
		return ns + "/" + o.GetName()
	}
	return o.GetName()
}
