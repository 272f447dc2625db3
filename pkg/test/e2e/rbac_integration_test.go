//go:build integration

package e2e

import (
	"context"
	"reflect"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/heptio/ark/pkg/format"
)

// The server's kubeconfig is its ServiceAccount's, with the shipped RBAC and
// nothing more: it may not, for example, delete pods.
func TestServerRunsAsItsServiceAccount(t *testing.T) {
	ctx := context.Background()
	e := startArk(t, testCluster, envOptions{})
	cfg, err := clientcmd.BuildConfigFromFlags("", e.server.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	review, err := kube.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "system:serviceaccount:" + e.namespace + ":ark"; review.Status.UserInfo.Username != want {
		t.Errorf("the server is %q, want %q", review.Status.UserInfo.Username, want)
	}
	for _, tc := range []struct {
		attrs authorizationv1.ResourceAttributes
		want  bool
	}{
		{authorizationv1.ResourceAttributes{Verb: "list", Resource: "secrets"}, true},
		{authorizationv1.ResourceAttributes{Verb: "create", Resource: "pods", Namespace: "default"}, true},
		{authorizationv1.ResourceAttributes{Verb: "delete", Resource: "pods", Namespace: "default"}, false},
		// update on ConfigMaps (and ServiceAccounts): the backup's labels and annotations are
		// merged into the kube-root-ca.crt and default objects the cluster makes; never delete.
		{authorizationv1.ResourceAttributes{Verb: "update", Resource: "configmaps", Namespace: "default"}, true},
		{authorizationv1.ResourceAttributes{Verb: "delete", Resource: "configmaps", Namespace: "default"}, false},
		{authorizationv1.ResourceAttributes{Verb: "update", Group: "apps", Resource: "deployments", Namespace: "default"}, false},
		{authorizationv1.ResourceAttributes{Verb: "escalate", Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}, true},
		{authorizationv1.ResourceAttributes{Verb: "delete", Group: "ark.heptio.com", Resource: "backups", Namespace: e.namespace}, true},
		{authorizationv1.ResourceAttributes{Verb: "delete", Group: "ark.heptio.com", Resource: "backups", Namespace: "default"}, false},
	} {
		sar, err := kube.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &tc.attrs},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if sar.Status.Allowed != tc.want {
			t.Errorf("%s %s/%s in %q: allowed %v, want %v", tc.attrs.Verb, tc.attrs.Group, tc.attrs.Resource, tc.attrs.Namespace, sar.Status.Allowed, tc.want)
		}
	}
}

// A namespace's Role granting what the server does not hold (update and
// delete on pods) with its RoleBinding, and a ClusterRole with its
// ClusterRoleBinding, are backed up, deleted and restored by the server as
// the shipped ServiceAccount, identical.
func TestRestoreRBACAsServiceAccount(t *testing.T) {
	ctx := context.Background()
	e := startArk(t, testCluster, envOptions{})
	rbac := testCluster.Client().RbacV1()
	app := testCluster.NewNamespace(t)
	labels := map[string]string{"e2e-rbac": app}
	clusterName := "e2e-rbac-" + app
	t.Cleanup(func() {
		ctx := context.Background()
		_ = rbac.ClusterRoleBindings().Delete(ctx, clusterName, metav1.DeleteOptions{})
		_ = rbac.ClusterRoles().Delete(ctx, clusterName, metav1.DeleteOptions{})
	})

	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: app, Name: "pod-admin", Labels: labels},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "create", "update", "delete"}}},
	}
	roleBinding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: app, Name: "pod-admin", Labels: labels},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "pod-admin"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: app, Name: "deployer"}, {Kind: "User", APIGroup: rbacv1.GroupName, Name: "alice"}},
	}
	clusterRole := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: clusterName, Labels: labels},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list", "delete", "deletecollection"}},
			{APIGroups: []string{"apps"}, Resources: []string{"deployments", "deployments/scale"}, Verbs: []string{"update", "patch"}},
			{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}},
		},
	}
	clusterRoleBinding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: clusterName, Labels: labels},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterName},
		Subjects:   []rbacv1.Subject{{Kind: "Group", APIGroup: rbacv1.GroupName, Name: "operators"}},
	}
	if _, err := rbac.Roles(app).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := rbac.RoleBindings(app).Create(ctx, roleBinding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := rbac.ClusterRoles().Create(ctx, clusterRole, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := rbac.ClusterRoleBindings().Create(ctx, clusterRoleBinding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	out := e.mustRun("backup", "create", "rbac", "--include-namespaces", app, "--include-cluster-resources", "--selector", "e2e-rbac="+app, "--wait")
	if !strings.Contains(out, "Completed") {
		t.Fatalf("backup:\n%s", out)
	}
	b, err := e.ark.ArkV1().Backups(e.namespace).Get(ctx, "rbac", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The four, and the namespace they are in.
	if b.Status.Progress == nil || b.Status.Progress.ItemsBackedUp != 5 {
		t.Errorf("backup progress %+v, want 5 items\n%s", b.Status.Progress, e.mustRun("backup", "logs", "rbac"))
	}

	// The disaster: every one of them is gone.
	if err := rbac.RoleBindings(app).Delete(ctx, "pod-admin", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := rbac.Roles(app).Delete(ctx, "pod-admin", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := rbac.ClusterRoleBindings().Delete(ctx, clusterName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := rbac.ClusterRoles().Delete(ctx, clusterName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the RBAC objects to be gone", func() bool {
		_, err1 := rbac.Roles(app).Get(ctx, "pod-admin", metav1.GetOptions{})
		_, err2 := rbac.ClusterRoles().Get(ctx, clusterName, metav1.GetOptions{})
		return apierrors.IsNotFound(err1) && apierrors.IsNotFound(err2)
	})

	out = e.mustRun("restore", "create", "rbac", "--name", "rbac", "--wait")
	if !strings.Contains(out, "finished: Completed") {
		t.Fatalf("restore:\n%s\n%s", out, e.mustRun("restore", "describe", "rbac"))
	}
	r, err := e.ark.ArkV1().Restores(e.namespace).Get(ctx, "rbac", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// No warning: the namespace, which still exists as backed up, is counted unchanged.
	if describe := e.mustRun("restore", "describe", "rbac"); r.Status.Errors != 0 || r.Status.Warnings != 0 {
		t.Errorf("restore: %d errors, %d warnings\n%s", r.Status.Errors, r.Status.Warnings, describe)
	}

	gotRole, err := rbac.Roles(app).Get(ctx, "pod-admin", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("role not restored: %v", err)
	}
	if !reflect.DeepEqual(gotRole.Rules, role.Rules) {
		t.Errorf("role rules %+v, want %+v", gotRole.Rules, role.Rules)
	}
	gotRB, err := rbac.RoleBindings(app).Get(ctx, "pod-admin", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("role binding not restored: %v", err)
	}
	if !reflect.DeepEqual(gotRB.RoleRef, roleBinding.RoleRef) || !reflect.DeepEqual(gotRB.Subjects, roleBinding.Subjects) {
		t.Errorf("role binding %+v %+v", gotRB.RoleRef, gotRB.Subjects)
	}
	gotCR, err := rbac.ClusterRoles().Get(ctx, clusterName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("cluster role not restored: %v", err)
	}
	if !reflect.DeepEqual(gotCR.Rules, clusterRole.Rules) {
		t.Errorf("cluster role rules %+v, want %+v", gotCR.Rules, clusterRole.Rules)
	}
	gotCRB, err := rbac.ClusterRoleBindings().Get(ctx, clusterName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("cluster role binding not restored: %v", err)
	}
	if !reflect.DeepEqual(gotCRB.RoleRef, clusterRoleBinding.RoleRef) || !reflect.DeepEqual(gotCRB.Subjects, clusterRoleBinding.Subjects) {
		t.Errorf("cluster role binding %+v %+v", gotCRB.RoleRef, gotCRB.Subjects)
	}
	for _, l := range []map[string]string{gotRole.Labels, gotRB.Labels, gotCR.Labels, gotCRB.Labels} {
		if l[format.RestoreNameLabel] != "rbac" {
			t.Errorf("labels %v lack the restore's", l)
		}
	}
}
