package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// TestNamespaceLabel marks the namespaces created by NewNamespace.
const TestNamespaceLabel = "ark.heptio.com/test-namespace"

// NewNamespace creates a namespace with a unique name derived from the test
// name and deletes it when the test ends (without waiting for the deletion
// to finish). It fails the test if the namespace cannot be created.
func (c *Cluster) NewNamespace(t testing.TB) string {
	t.Helper()
	prefix := sanitizeName(t.Name(), 40)
	if prefix == "" {
		prefix = "test"
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		GenerateName: prefix + "-",
		Labels:       map[string]string{TestNamespaceLabel: "true"},
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	created, err := c.kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating test namespace: %v", err)
	}
	name := created.Name
	t.Cleanup(func() {
		// t.Context() is already canceled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := c.kube.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting test namespace %s: %v", name, err)
		}
	})
	return name
}

// DeleteNamespaceAndWait deletes a namespace and waits until it is gone,
// which needs the controller-manager's namespace controller to empty it.
func (c *Cluster) DeleteNamespaceAndWait(ctx context.Context, name string, timeout time.Duration) error {
	err := c.kube.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	var phase corev1.NamespacePhase
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		ns, err := c.kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		if err != nil {
			return false, nil
		}
		phase = ns.Status.Phase
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("namespace %s still present (phase %q): %w", name, phase, err)
	}
	return nil
}
