//go:build integration

package e2e

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/authz"
	"github.com/heptio/ark/pkg/cmd/ark"
	"github.com/heptio/ark/pkg/format"
	arkclient "github.com/heptio/ark/pkg/generated/clientset/versioned"
)

// tenant is a user who may edit one namespace and use ark in the server's
// namespace: the test's admin impersonates them (rest.Config.Impersonate,
// and `as:` in the CLI's kubeconfig).
type tenant struct {
	user       string
	config     *rest.Config
	ark        arkclient.Interface
	kubeconfig string
}

// newTenant binds user to the ClusterRole edit in namespace, and lets them
// create and read ark's request kinds in the server's namespace.
func newTenant(t *testing.T, e *arkEnv, user, namespace string) *tenant {
	t.Helper()
	ctx := context.Background()
	rbac := testCluster.Client().RbacV1()
	subject := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}
	if _, err := rbac.RoleBindings(namespace).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user + "-edit"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "edit"},
		Subjects:   subject,
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := rbac.Roles(e.namespace).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: user + "-ark"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{arkv1.SchemeGroupVersion.Group},
			Resources: []string{"backups", "restores", "schedules", "downloadrequests", "deletebackuprequests"},
			Verbs:     []string{"get", "list", "watch", "create", "update", "patch", "delete"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := rbac.RoleBindings(e.namespace).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user + "-ark"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: user + "-ark"},
		Subjects:   subject,
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg := testCluster.RESTConfig()
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	client, err := arkclient.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := clientcmd.LoadFromFile(testCluster.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range raw.AuthInfos {
		a.Impersonate = user
	}
	path := filepath.Join(t.TempDir(), user+".kubeconfig")
	if err := clientcmd.WriteToFile(*raw, path); err != nil {
		t.Fatal(err)
	}
	return &tenant{user: user, config: cfg, ark: client, kubeconfig: path}
}

// run runs the ark CLI as the tenant.
func (tn *tenant) run(e *arkEnv, args ...string) (string, error) {
	cmd := ark.NewCommand()
	var out bytes.Buffer
	cmd.SetArgs(append(args, "--kubeconfig", tn.kubeconfig, "-n", e.namespace))
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

// Who asked is recorded and cannot be forged: the CLI records its user; the
// API server (the shipped ValidatingAdmissionPolicy) refuses a create that
// names someone else and any change of the record, from the tenant and from
// a cluster admin alike; only the server's ServiceAccount may record another
// requester (a schedule's backups). An object created without a record
// (kubectl, old clients) is accepted.
func TestRequesterCannotBeForged(t *testing.T) {
	ctx := context.Background()
	e := startArk(t, testCluster, envOptions{})
	teamA := testCluster.NewNamespace(t)
	alice := newTenant(t, e, "alice-"+e.namespace[len(e.namespace)-5:], teamA)

	// The CLI records the tenant, as the API server knows them.
	if out, err := alice.run(e, "backup", "create", "mine", "--include-namespaces", teamA); err != nil {
		t.Fatalf("backup create as %s: %v\n%s", alice.user, err, out)
	}
	b, err := e.ark.ArkV1().Backups(e.namespace).Get(ctx, "mine", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := authz.RequesterOf(b); !ok || r.Username != alice.user || strings.Join(r.Groups, ",") != "system:authenticated" {
		t.Errorf("requester %+v (%v), want %s in system:authenticated", r, ok, alice.user)
	}

	// A create naming someone else is refused by the API server.
	for _, forged := range []authz.Requester{
		{Username: "admin", Groups: []string{"system:masters", "system:authenticated"}},
		{Username: alice.user, Groups: []string{"system:masters", "system:authenticated"}},
	} {
		fb := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: e.namespace, Name: "forged"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{teamA}}}
		authz.SetRequester(fb, forged)
		_, err := alice.ark.ArkV1().Backups(e.namespace).Create(ctx, fb, metav1.CreateOptions{})
		if err == nil || !strings.Contains(err.Error(), format.RequesterAnnotation) {
			t.Errorf("create as %s recording %v: %v; want it refused", alice.user, forged, err)
		}
	}
	fr := &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: e.namespace, Name: "forged"}, Spec: arkv1.RestoreSpec{BackupName: "mine"}}
	fr.Annotations = map[string]string{format.RequesterAnnotation: "admin"}
	if _, err := alice.ark.ArkV1().Restores(e.namespace).Create(ctx, fr, metav1.CreateOptions{}); err == nil {
		t.Error("a restore recording admin was created by the tenant")
	}

	// Nobody changes the record afterwards: not the tenant, not an admin.
	for who, client := range map[string]arkclient.Interface{alice.user: alice.ark, "admin": e.ark} {
		for _, change := range []func(*arkv1.Backup){
			func(b *arkv1.Backup) { b.Annotations[format.RequesterAnnotation] = "admin" },
			func(b *arkv1.Backup) { b.Annotations[format.RequesterGroupsAnnotation] += ",system:masters" },
			func(b *arkv1.Backup) { delete(b.Annotations, format.RequesterAnnotation) },
		} {
			cur, err := client.ArkV1().Backups(e.namespace).Get(ctx, "mine", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			change(cur)
			_, err = client.ArkV1().Backups(e.namespace).Update(ctx, cur, metav1.UpdateOptions{})
			if err == nil || apierrors.IsConflict(err) || !strings.Contains(err.Error(), "cannot be added, changed or removed") {
				t.Errorf("%s changing the requester: %v; want it refused", who, err)
			}
		}
	}
	// Other changes of the object are not the policy's business.
	cur, err := alice.ark.ArkV1().Backups(e.namespace).Get(ctx, "mine", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur.Labels = map[string]string{"team": "a"}
	if _, err := alice.ark.ArkV1().Backups(e.namespace).Update(ctx, cur, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) {
		t.Errorf("labelling the backup: %v", err)
	}

	// No record at all (kubectl, old clients) is accepted, and cannot be added later.
	plain := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: e.namespace, Name: "plain"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{teamA}}}
	if _, err := alice.ark.ArkV1().Backups(e.namespace).Create(ctx, plain, metav1.CreateOptions{}); err != nil {
		t.Errorf("a backup without requester: %v", err)
	}
	if got, err := alice.ark.ArkV1().Backups(e.namespace).Get(ctx, "plain", metav1.GetOptions{}); err == nil {
		authz.SetRequester(got, authz.Requester{Username: alice.user, Groups: []string{"system:authenticated"}})
		if _, err := alice.ark.ArkV1().Backups(e.namespace).Update(ctx, got, metav1.UpdateOptions{}); err == nil {
			t.Error("a requester was added to an existing backup")
		}
	}

	// The server's ServiceAccount records the requester of what it creates
	// for someone (a schedule's backups).
	saConfig, err := clientcmd.BuildConfigFromFlags("", e.server.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	sa, err := arkclient.NewForConfig(saConfig)
	if err != nil {
		t.Fatal(err)
	}
	scheduled := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: e.namespace, Name: "scheduled"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{teamA}}}
	authz.SetRequester(scheduled, authz.Requester{Username: alice.user, Groups: []string{"system:authenticated"}})
	if _, err := sa.ArkV1().Backups(e.namespace).Create(ctx, scheduled, metav1.CreateOptions{}); err != nil {
		t.Errorf("the server's ServiceAccount recording the schedule's requester: %v", err)
	}
}

// A namespace mapping into kube-system, kube-public, kube-node-lease or the
// server's own namespace fails validation, naming it, unless the restore
// allows it explicitly.
func TestRestoreIntoProtectedNamespaces(t *testing.T) {
	ctx := context.Background()
	e := startArk(t, testCluster, envOptions{})
	src := testCluster.NewNamespace(t)
	createConfigMaps(t, testCluster, src, "guarded")
	if out := e.mustRun("backup", "create", "src", "--include-namespaces", src, "--wait"); !strings.Contains(out, "Completed") {
		t.Fatalf("backup:\n%s", out)
	}
	for _, target := range []string{"kube-system", "kube-public", "kube-node-lease", e.namespace} {
		name := "to-" + target
		if target == e.namespace {
			name = "to-server-ns"
		}
		out, _ := e.run("restore", "create", "src", "--name", name, "--namespace-mappings", src+":"+target, "--wait")
		r, err := e.ark.ArkV1().Restores(e.namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if r.Status.Phase != arkv1.RestorePhaseFailedValidation || !strings.Contains(strings.Join(r.Status.ValidationErrors, ";"), src+":"+target) {
			t.Errorf("restore into %s: %s %q; want FailedValidation naming the mapping", target, r.Status.Phase, r.Status.ValidationErrors)
		}
		if _, err := testCluster.Client().CoreV1().ConfigMaps(target).Get(ctx, "guarded", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the ConfigMap reached %s: %v", target, err)
		}
	}
	// Explicitly allowed (here by a cluster admin): it runs.
	out := e.mustRun("restore", "create", "src", "--name", "allowed", "--namespace-mappings", src+":kube-public", "--allow-protected-namespace-targets", "--include-resources", "configmaps", "--wait")
	if !strings.Contains(out, "Completed") {
		t.Errorf("allowed restore:\n%s", out)
	}
	t.Cleanup(func() {
		_ = testCluster.Client().CoreV1().ConfigMaps("kube-public").Delete(context.Background(), "guarded", metav1.DeleteOptions{})
	})
	if _, err := testCluster.Client().CoreV1().ConfigMaps("kube-public").Get(ctx, "guarded", metav1.GetOptions{}); err != nil {
		t.Errorf("the allowed restore did not create the ConfigMap: %v", err)
	}
}
