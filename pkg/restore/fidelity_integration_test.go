//go:build integration

package restore

import (
	"bytes"
	"context"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	clientdiscovery "k8s.io/client-go/discovery"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/backup"
	"github.com/heptio/ark/pkg/discovery"
)

// Regression tests for issue 16: restores that did not bring back what was
// backed up, from operators' reports. Each runs on the real control plane.

// fixedNamespace creates the namespace name (deleting a leftover first) and
// deletes it when the test ends: the regression inputs use fixed names.
func fixedNamespace(t *testing.T, name string, create bool) {
	t.Helper()
	ctx := context.Background()
	if err := testCluster.DeleteNamespaceAndWait(ctx, name, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = testCluster.DeleteNamespaceAndWait(context.Background(), name, 2*time.Minute) })
	if create {
		if _, err := testCluster.Client().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// backupWithEngine backs up with ark's backup engine, as the server does.
func backupWithEngine(t *testing.T, spec arkv1.BackupSpec) []byte {
	t.Helper()
	dc, err := clientdiscovery.NewDiscoveryClientForConfig(testCluster.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	spec.SnapshotVolumes = ptr.To(false)
	b := backup.NewBackupper(discovery.NewHelper(dc), testCluster.Dynamic(), nil, nil, nil)
	var contents, blog bytes.Buffer
	bk := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "fidelity"}, Spec: spec}
	if _, err := b.Backup(context.Background(), bk, &contents, &blog, nil); err != nil {
		t.Fatalf("backup: %v\n%s", err, blog.String())
	}
	return contents.Bytes()
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// Issue 16, input 1: a RoleBinding's ServiceAccount subject follows the
// namespace mapping, so the restored account, not the source's, is granted.
func TestIntegrationRestoreMapsRoleBindingSubjects(t *testing.T) {
	ctx := context.Background()
	kube := testCluster.Client()
	fixedNamespace(t, "rb-src", true)
	fixedNamespace(t, "rb-dst", false)
	must[*corev1.ServiceAccount](t)(kube.CoreV1().ServiceAccounts("rb-src").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "worker"}}, metav1.CreateOptions{}))
	must[*rbacv1.Role](t)(kube.RbacV1().Roles("rb-src").Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "cm-reader"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list"}}},
	}, metav1.CreateOptions{}))
	must[*rbacv1.RoleBinding](t)(kube.RbacV1().RoleBindings("rb-src").Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "worker-reads"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "cm-reader"},
		Subjects: []rbacv1.Subject{
			{Kind: "ServiceAccount", Namespace: "rb-src", Name: "worker"},
			// Not namespace references: left as they are.
			{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "rb-src"},
		},
	}, metav1.CreateOptions{}))
	contents := backupWithEngine(t, arkv1.BackupSpec{IncludedNamespaces: []string{"rb-src"}})

	res, log := runRealRestore(t, newRealRestorer(t, Options{}), newRestore("rb", func(s *arkv1.RestoreSpec) {
		s.NamespaceMapping = map[string]string{"rb-src": "rb-dst"}
	}), contents)
	if res.Results.ErrorCount() != 0 {
		t.Fatalf("errors %v\n%s", res.Results.Errors, log)
	}
	rb := must[*rbacv1.RoleBinding](t)(kube.RbacV1().RoleBindings("rb-dst").Get(ctx, "worker-reads", metav1.GetOptions{}))
	want := []rbacv1.Subject{
		{Kind: "ServiceAccount", Namespace: "rb-dst", Name: "worker"},
		{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "rb-src"},
	}
	if len(rb.Subjects) != 2 || rb.Subjects[0] != want[0] || rb.Subjects[1] != want[1] {
		t.Errorf("subjects %+v, want %+v", rb.Subjects, want)
	}
	for _, tc := range []struct {
		user string
		want bool
	}{
		{"system:serviceaccount:rb-dst:worker", true},
		{"system:serviceaccount:rb-src:worker", false}, // the source's account gains nothing in rb-dst
	} {
		sar := must[*authorizationv1.SubjectAccessReview](t)(kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:               tc.user,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: "rb-dst", Verb: "get", Resource: "configmaps"},
		}}, metav1.CreateOptions{}))
		if sar.Status.Allowed != tc.want {
			t.Errorf("%s get configmaps in rb-dst: allowed=%t, want %t (%s)", tc.user, sar.Status.Allowed, tc.want, sar.Status.Reason)
		}
	}
	// The source is untouched.
	src := must[*rbacv1.RoleBinding](t)(kube.RbacV1().RoleBindings("rb-src").Get(ctx, "worker-reads", metav1.GetOptions{}))
	if src.Subjects[0].Namespace != "rb-src" {
		t.Errorf("source binding changed: %+v", src.Subjects)
	}
}
