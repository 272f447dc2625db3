package restore

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func (s *run) preserveNodePorts() bool {
	p := s.restore.Spec.PreserveNodePorts
	return p != nil && *p
}

// dropNodePorts removes a Service's node ports (spec.ports[].nodePort and
// spec.healthCheckNodePort), for the cluster to choose. It returns those it
// removed.
func dropNodePorts(obj *unstructured.Unstructured) []string {
	o := obj.Object
	var dropped []string
	if p, ok, _ := unstructured.NestedFieldNoCopy(o, "spec", "healthCheckNodePort"); ok {
		dropped = append(dropped, fmt.Sprintf("healthCheckNodePort %v", p))
		unstructured.RemoveNestedField(o, "spec", "healthCheckNodePort")
	}
	if ports, ok, _ := unstructured.NestedSlice(o, "spec", "ports"); ok {
		for _, p := range ports {
			if m, ok := p.(map[string]any); ok {
				if n, ok := m["nodePort"]; ok {
					dropped = append(dropped, fmt.Sprintf("nodePort %v", n))
					delete(m, "nodePort")
				}
			}
		}
		_ = unstructured.SetNestedSlice(o, ports, "spec", "ports")
	}
	return dropped
}

// createService creates a Service whose node ports were kept
// (preserveNodePorts). A node port another Service holds makes the API
// server reject the Service as Invalid ("provided port is already
// allocated"); the Service is then created with new node ports, and a
// warning names those not kept.
func (s *run) createService(ctx context.Context, gvr schema.GroupVersionResource, ref ItemRef, obj *unstructured.Unstructured) error {
	rc := s.client.Resource(gvr).Namespace(obj.GetNamespace())
	_, err := rc.Create(ctx, obj, metav1.CreateOptions{})
	if err == nil || !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "already allocated") {
		return err
	}
	retry := obj.DeepCopy()
	dropped := dropNodePorts(retry)
	if len(dropped) == 0 {
		return err
	}
	if _, err2 := rc.Create(ctx, retry, metav1.CreateOptions{}); err2 != nil {
		return err2
	}
	msg := fmt.Sprintf("node ports not kept, the cluster chose new ones (%s): %v", strings.Join(dropped, ", "), err)
	s.col.warn(ref.Namespace, "%s: %s", ref, msg)
	s.log.Item(slog.LevelWarn, msg, ref.Resource, ref.Namespace, ref.Name)
	return nil
}
