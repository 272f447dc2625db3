//go:build integration

package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
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
// create and read ark's request kinds in the server's namespace; not delete
// Backups, which would let them delete anyone's backup (as the shipped
// ark-user).
func newTenant(t *testing.T, e *arkEnv, user, namespace string) *tenant {
	t.Helper()
	ctx := context.Background()
	rbac := testCluster.Client().RbacV1()
	// The ClusterRole aggregation controller fills edit from its parts.
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		edit, err := rbac.ClusterRoles().Get(ctx, "edit", metav1.GetOptions{})
		return err == nil && len(edit.Rules) > 0, nil
	}); err != nil {
		t.Fatalf("the ClusterRole edit has no rules (is the clusterrole-aggregation-controller running?): %v", err)
	}
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
			Resources: []string{"restores", "schedules", "downloadrequests", "deletebackuprequests"},
			Verbs:     []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
			{APIGroups: []string{arkv1.SchemeGroupVersion.Group}, Resources: []string{"backups"},
				Verbs: []string{"get", "list", "watch", "create", "update", "patch"}}},
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
	// The API server loads a new admission policy in the background: wait
	// until it refuses a forged requester (a dry-run create).
	forged := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: e.namespace, GenerateName: "policy-probe-"}}
	authz.SetRequester(forged, authz.Requester{Username: "someone-else"})
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := client.ArkV1().Backups(e.namespace).Create(ctx, forged, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err != nil && strings.Contains(err.Error(), format.RequesterAnnotation), nil
	}); err != nil {
		t.Fatalf("the admission policy ark-requester does not refuse a forged requester: %v", err)
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

	// The CLI records the tenant, as the API server knows them. (--wait: the
	// updates below must not race the server's status updates.)
	if out, err := alice.run(e, "backup", "create", "mine", "--include-namespaces", teamA, "--wait"); err != nil {
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

// recordingClient is the tenant's typed ark client that records them as the
// requester of what it creates, as the CLI does.
func (tn *tenant) recordingClient(t *testing.T) arkclient.Interface {
	t.Helper()
	cfg := rest.CopyConfig(tn.config)
	if err := authz.RecordRequester(cfg); err != nil {
		t.Fatal(err)
	}
	c, err := arkclient.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func createSecret(t *testing.T, ns, name, value string) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, StringData: map[string]string{"password": value}}
	if _, err := testCluster.Client().CoreV1().Secrets(ns).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// waitDownload creates a download request through client and waits for the
// server's answer.
func waitDownload(t *testing.T, e *arkEnv, client arkclient.Interface, kind arkv1.DownloadTargetKind, name string) *arkv1.DownloadRequest {
	t.Helper()
	ctx := context.Background()
	req, err := client.ArkV1().DownloadRequests(e.namespace).Create(ctx, &arkv1.DownloadRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: e.namespace, GenerateName: "dl-"},
		Spec:       arkv1.DownloadRequestSpec{Target: arkv1.DownloadTarget{Kind: kind, Name: name}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got *arkv1.DownloadRequest
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		got, err = e.ark.ArkV1().DownloadRequests(e.namespace).Get(ctx, req.Name, metav1.GetOptions{})
		return err == nil && got.Status.Phase != "" && got.Status.Phase != arkv1.DownloadRequestPhaseNew, nil
	})
	if err != nil {
		t.Fatalf("download request %s was not answered: %v", req.Name, err)
	}
	return got
}

// waitRestore waits until a restore created by the CLI is in a final phase (waitRestorePhase).
func waitRestore(t *testing.T, e *arkEnv, name string) *arkv1.Restore {
	t.Helper()
	return e.waitRestorePhase(name, 2*time.Minute, arkv1.RestorePhaseFailedValidation, arkv1.RestorePhaseCompleted,
		arkv1.RestorePhasePartiallyFailed, arkv1.RestorePhaseFailed, arkv1.RestorePhaseDryRunCompleted)
}

// waitBackup waits until a backup is in a final phase (waitBackupPhaseWithin).
func waitBackup(t *testing.T, e *arkEnv, name string) *arkv1.Backup {
	t.Helper()
	return e.waitBackupPhaseWithin(name, 2*time.Minute, arkv1.BackupPhaseFailedValidation, arkv1.BackupPhaseCompleted,
		arkv1.BackupPhasePartiallyFailed, arkv1.BackupPhaseFailed)
}

// The server acts as whoever asked (multi-tenant mode, the default). A user
// who may only edit team-a backs up and restores team-a; they cannot back up
// team-b, restore into team-b or kube-system, copy team-b's Secret into
// team-a through a mapping, or download a backup holding team-b's Secrets;
// a wildcard backup of theirs leaves out, with warnings, what they may not
// list. A cluster admin does everything as before. Objects without a
// requester are refused.
func TestServerActsAsTheRequester(t *testing.T) {
	ctx := context.Background()
	e := startArk(t, testCluster, envOptions{})
	teamA, teamB := testCluster.NewNamespace(t), testCluster.NewNamespace(t)
	alice := newTenant(t, e, "alice-"+e.namespace[len(e.namespace)-5:], teamA)
	aliceArk := alice.recordingClient(t)
	createConfigMaps(t, testCluster, teamA, "a-settings")
	createSecret(t, teamA, "a-secret", "alice-value")
	createSecret(t, teamB, "b-secret", "bob-value")
	cms := testCluster.Client().CoreV1().ConfigMaps(teamA)
	secretsOf := func(ns string) []string {
		list, err := testCluster.Client().CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range list.Items {
			names = append(names, s.Name)
		}
		return names
	}

	// Alice backs up her namespace and restores it.
	if out, err := alice.run(e, "backup", "create", "a1", "--include-namespaces", teamA, "--wait"); err != nil {
		t.Fatalf("backup as %s: %v\n%s", alice.user, err, out)
	}
	if b := waitBackup(t, e, "a1"); b.Status.Phase != arkv1.BackupPhaseCompleted || b.Status.Progress == nil || b.Status.Progress.ItemsBackedUp < 3 {
		t.Fatalf("alice's backup of %s: %s %+v %q %s", teamA, b.Status.Phase, b.Status.Progress, b.Status.ValidationErrors, b.Status.FailureReason)
	}
	if err := cms.Delete(ctx, "a-settings", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if out, err := alice.run(e, "restore", "create", "a1", "--name", "a1-back", "--wait"); err != nil {
		t.Fatalf("restore as %s: %v\n%s", alice.user, err, out)
	}
	if r := waitRestore(t, e, "a1-back"); r.Status.Phase != arkv1.RestorePhaseCompleted {
		t.Errorf("alice's restore of %s: %s %q %s", teamA, r.Status.Phase, r.Status.ValidationErrors, r.Status.FailureReason)
	}
	if _, err := cms.Get(ctx, "a-settings", metav1.GetOptions{}); err != nil {
		t.Errorf("alice's restore did not bring the ConfigMap back: %v", err)
	}
	// She may download her own backup.
	if got := waitDownload(t, e, aliceArk, arkv1.DownloadTargetKindBackupContents, "a1"); got.Status.Phase != arkv1.DownloadRequestPhaseProcessed || got.Status.DownloadURL == "" {
		t.Errorf("alice's download of her backup: %s %q", got.Status.Phase, got.Status.FailureReason)
	}

	// She cannot restore into team-b, nor into kube-system (even where the
	// protected-namespace guard is waived): FailedValidation naming it, nothing written.
	for name, target := range map[string]string{"to-b": teamB, "to-system": "kube-system"} {
		out, _ := alice.run(e, "restore", "create", "a1", "--name", name, "--namespace-mappings", teamA+":"+target, "--allow-protected-namespace-targets", "--wait")
		r := waitRestore(t, e, name)
		errs := strings.Join(r.Status.ValidationErrors, "; ")
		if r.Status.Phase != arkv1.RestorePhaseFailedValidation || !strings.Contains(errs, "create configmaps in namespace "+target) || !strings.Contains(errs, alice.user) {
			t.Errorf("restore into %s as %s: %s %q; want FailedValidation naming create configmaps there\n%s", target, alice.user, r.Status.Phase, errs, out)
		}
		if _, err := testCluster.Client().CoreV1().ConfigMaps(target).Get(ctx, "a-settings", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the ConfigMap reached %s: %v", target, err)
		}
		if _, err := testCluster.Client().CoreV1().Secrets(target).Get(ctx, "a-secret", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the Secret reached %s: %v", target, err)
		}
	}

	// The cluster admin backs up team-b (as before).
	if out := e.mustRun("backup", "create", "b1", "--include-namespaces", teamB, "--wait"); !strings.Contains(out, "Completed") {
		t.Fatalf("admin backup of %s:\n%s", teamB, out)
	}
	// Alice cannot copy team-b's Secret into team-a through a mapping.
	out, _ := alice.run(e, "restore", "create", "b1", "--name", "steal", "--namespace-mappings", teamB+":"+teamA, "--wait")
	r := waitRestore(t, e, "steal")
	if errs := strings.Join(r.Status.ValidationErrors, "; "); r.Status.Phase != arkv1.RestorePhaseFailedValidation ||
		!strings.Contains(errs, "get secrets in namespace "+teamB) {
		t.Errorf("copying %s's Secret into %s: %s %q; want FailedValidation naming get secrets in %s\n%s", teamB, teamA, r.Status.Phase, errs, teamB, out)
	}
	if _, err := testCluster.Client().CoreV1().Secrets(teamA).Get(ctx, "b-secret", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("team-b's Secret reached %s: %v (secrets there: %v)", teamA, err, secretsOf(teamA))
	}
	// Nor the same as a dry run.
	out, _ = alice.run(e, "restore", "create", "b1", "--name", "steal-dry", "--namespace-mappings", teamB+":"+teamA, "--dry-run", "--wait")
	if r := waitRestore(t, e, "steal-dry"); r.Status.Phase != arkv1.RestorePhaseFailedValidation {
		t.Errorf("dry run copying %s's Secret: %s %q\n%s", teamB, r.Status.Phase, r.Status.ValidationErrors, out)
	}
	// Nor download a backup holding team-b's Secrets: no URL is issued.
	for _, kind := range []arkv1.DownloadTargetKind{arkv1.DownloadTargetKindBackupContents, arkv1.DownloadTargetKindBackupLog, arkv1.DownloadTargetKindBackupResourceList} {
		got := waitDownload(t, e, aliceArk, kind, "b1")
		if got.Status.Phase != arkv1.DownloadRequestPhaseFailed || got.Status.DownloadURL != "" || !strings.Contains(got.Status.FailureReason, "may not get secrets in namespace "+teamB) {
			t.Errorf("%s of b1 as %s: %s %q (url given: %v); want Failed naming secrets in %s", kind, alice.user, got.Status.Phase, got.Status.FailureReason, got.Status.DownloadURL != "", teamB)
		}
	}
	if out, err := alice.run(e, "backup", "download", "b1", "-o", filepath.Join(t.TempDir(), "b1.tgz")); err == nil || !strings.Contains(out+err.Error(), "refused") {
		t.Errorf("ark backup download b1 as %s: %v\n%s", alice.user, err, out)
	}
	// Nor back up team-b: named, it fails validation.
	for name, args := range map[string][]string{
		"b-all":     {"--include-namespaces", teamB},
		"b-secrets": {"--include-namespaces", teamB, "--include-resources", "secrets"},
	} {
		if out, err := alice.run(e, append([]string{"backup", "create", name}, args...)...); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		b := waitBackup(t, e, name)
		if errs := strings.Join(b.Status.ValidationErrors, "; "); b.Status.Phase != arkv1.BackupPhaseFailedValidation || !strings.Contains(errs, teamB) || !strings.Contains(errs, alice.user+" may not") {
			t.Errorf("backup %s of %s as %s: %s %q; want FailedValidation naming %s", name, teamB, alice.user, b.Status.Phase, errs, teamB)
		}
		if _, err := os.Stat(filepath.Join(e.bucket, "ark", name)); !os.IsNotExist(err) {
			t.Errorf("backup %s that failed validation wrote to the bucket: %v", name, err)
		}
	}
	// A backup of everything, as alice, holds what she may list and says
	// what it left out.
	if out, err := alice.run(e, "backup", "create", "wide", "--wait"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	wide := waitBackup(t, e, "wide")
	if wide.Status.Phase != arkv1.BackupPhaseCompleted || wide.Status.Warnings == 0 {
		t.Errorf("alice's backup of everything: %s with %d warnings; want Completed with warnings", wide.Status.Phase, wide.Status.Warnings)
	}
	details := e.mustRun("backup", "describe", "wide", "--details")
	if !strings.Contains(details, "Left out (its requester may not read it):") || !strings.Contains(details, teamB) {
		t.Errorf("describe does not say what alice's backup of everything left out:\n%s", details)
	}
	if !strings.Contains(details, teamA+"/a-secret") || strings.Contains(details, teamB+"/b-secret") {
		t.Errorf("alice's backup of everything: want %s/a-secret and not %s/b-secret:\n%s", teamA, teamB, details)
	}
	logs := e.mustRun("backup", "logs", "wide")
	if !strings.Contains(logs, "left out") || !strings.Contains(logs, teamB) {
		t.Errorf("the log of alice's backup of everything does not say what was left out:\n%.3000s", logs)
	}

	// The cluster admin restores team-b's backup elsewhere and downloads it, as before.
	teamC := testCluster.NewNamespace(t)
	if out := e.mustRun("restore", "create", "b1", "--name", "b-to-c", "--namespace-mappings", teamB+":"+teamC, "--wait"); !strings.Contains(out, "Completed") {
		t.Errorf("admin restore:\n%s", out)
	}
	if _, err := testCluster.Client().CoreV1().Secrets(teamC).Get(ctx, "b-secret", metav1.GetOptions{}); err != nil {
		t.Errorf("the admin's restore did not create the Secret: %v", err)
	}
	if got := waitDownload(t, e, e.ark, arkv1.DownloadTargetKindBackupContents, "b1"); got.Status.Phase != arkv1.DownloadRequestPhaseProcessed {
		t.Errorf("admin download: %s %q", got.Status.Phase, got.Status.FailureReason)
	}

	// Objects without a requester (kubectl, a client that does not record
	// it) are refused, saying how to make them.
	plain, err := arkclient.NewForConfig(testCluster.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.ArkV1().Backups(e.namespace).Create(ctx, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "anonymous"},
		Spec: arkv1.BackupSpec{IncludedNamespaces: []string{teamA}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if b := waitBackup(t, e, "anonymous"); b.Status.Phase != arkv1.BackupPhaseFailedValidation || !strings.Contains(strings.Join(b.Status.ValidationErrors, ";"), "ark CLI") {
		t.Errorf("backup without requester: %s %q", b.Status.Phase, b.Status.ValidationErrors)
	}
	if got := waitDownload(t, e, plain, arkv1.DownloadTargetKindBackupLog, "a1"); got.Status.Phase != arkv1.DownloadRequestPhaseFailed || !strings.Contains(got.Status.FailureReason, "no requester") {
		t.Errorf("download without requester: %s %q", got.Status.Phase, got.Status.FailureReason)
	}
}

// With --single-tenant the server acts with its own permissions for
// everyone, as before requesters existed: objects without a requester run,
// and a user who may only edit team-a restores into team-b.
func TestSingleTenantMode(t *testing.T) {
	ctx := context.Background()
	e := startArk(t, testCluster, envOptions{args: []string{"--single-tenant"}})
	teamA, teamB := testCluster.NewNamespace(t), testCluster.NewNamespace(t)
	alice := newTenant(t, e, "alice-"+e.namespace[len(e.namespace)-5:], teamA)
	createConfigMaps(t, testCluster, teamA, "a-settings")
	plain, err := arkclient.NewForConfig(testCluster.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.ArkV1().Backups(e.namespace).Create(ctx, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "anonymous"},
		Spec: arkv1.BackupSpec{IncludedNamespaces: []string{teamA}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if b := waitBackup(t, e, "anonymous"); b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("backup without requester in single-tenant mode: %s %q %s", b.Status.Phase, b.Status.ValidationErrors, b.Status.FailureReason)
	}
	if out, err := alice.run(e, "restore", "create", "anonymous", "--name", "to-b", "--namespace-mappings", teamA+":"+teamB, "--wait"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if r := waitRestore(t, e, "to-b"); r.Status.Phase != arkv1.RestorePhaseCompleted {
		t.Errorf("restore into %s in single-tenant mode: %s %q", teamB, r.Status.Phase, r.Status.ValidationErrors)
	}
	if _, err := testCluster.Client().CoreV1().ConfigMaps(teamB).Get(ctx, "a-settings", metav1.GetOptions{}); err != nil {
		t.Errorf("single-tenant restore did not write into %s: %v", teamB, err)
	}
	if got := waitDownload(t, e, plain, arkv1.DownloadTargetKindBackupContents, "anonymous"); got.Status.Phase != arkv1.DownloadRequestPhaseProcessed {
		t.Errorf("download without requester in single-tenant mode: %s %q", got.Status.Phase, got.Status.FailureReason)
	}
}

// A backup is deleted only by its requester or by a user who may delete
// backups (multi-tenant mode, the default): a user who may only edit team-a
// cannot delete another user's or the admin's backup (the requests end
// Processed, refused, naming them; objects and bucket files untouched), nor
// can a request without requester; they delete their own, and their backup
// with a TTL still expires; the cluster admin deletes anyone's.
func TestBackupDeletionNeedsOwnershipOrRBAC(t *testing.T) {
	ctx := context.Background()
	e := startArk(t, testCluster, envOptions{})
	teamA, teamB := testCluster.NewNamespace(t), testCluster.NewNamespace(t)
	suffix := e.namespace[len(e.namespace)-5:]
	alice := newTenant(t, e, "alice-"+suffix, teamA)
	bob := newTenant(t, e, "bob-"+suffix, teamB)
	createConfigMaps(t, testCluster, teamA, "a-settings")
	createConfigMaps(t, testCluster, teamB, "b-settings")
	for _, c := range []struct {
		who  *tenant // nil: the admin
		name string
		ns   string
	}{{alice, "a1", teamA}, {bob, "b1", teamB}, {nil, "adm1", teamB}} {
		args := []string{"backup", "create", c.name, "--include-namespaces", c.ns, "--wait"}
		if c.who == nil {
			e.mustRun(args...)
		} else if out, err := c.who.run(e, args...); err != nil {
			t.Fatalf("backup %s as %s: %v\n%s", c.name, c.who.user, err, out)
		}
		if b := waitBackup(t, e, c.name); b.Status.Phase != arkv1.BackupPhaseCompleted {
			t.Fatalf("backup %s: %s %q", c.name, b.Status.Phase, b.Status.ValidationErrors)
		}
	}
	filesOf := func(name string) map[string]string {
		all := bucketFiles(t, e.bucket)
		out := map[string]string{}
		for k, v := range all {
			if strings.HasPrefix(k, "ark/"+name+"/") {
				out[k] = v
			}
		}
		return out
	}
	before := map[string]map[string]string{"a1": filesOf("a1"), "b1": filesOf("b1"), "adm1": filesOf("adm1")}
	for name, files := range before {
		if len(files) == 0 {
			t.Fatalf("backup %s has no files in the bucket", name)
		}
	}
	processed := func(backup string) []arkv1.DeleteBackupRequest {
		var reqs []arkv1.DeleteBackupRequest
		waitFor(t, "the requests to delete "+backup+" to be Processed", func() bool {
			l, err := e.ark.ArkV1().DeleteBackupRequests(e.namespace).List(ctx, metav1.ListOptions{LabelSelector: format.DeleteBackupRequestBackupLabel + "=" + backup})
			if err != nil || len(l.Items) == 0 {
				return false
			}
			for _, r := range l.Items {
				if r.Status.Phase != arkv1.DeleteBackupRequestPhaseProcessed {
					return false
				}
			}
			reqs = l.Items
			return true
		})
		return reqs
	}
	untouched := func(name string) {
		t.Helper()
		b, err := e.ark.ArkV1().Backups(e.namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil || b.Status.Phase != arkv1.BackupPhaseCompleted {
			t.Errorf("backup %s after a refused deletion: %v %v", name, err, b)
		}
		if after := filesOf(name); !reflect.DeepEqual(after, before[name]) {
			t.Errorf("the bucket files of %s changed after a refused deletion: %v, were %v", name, after, before[name])
		}
	}

	// Alice may not delete bob's nor the admin's backup: the CLI says so.
	for _, name := range []string{"b1", "adm1"} {
		out, err := alice.run(e, "backup", "delete", name, "--confirm", "--wait")
		if err == nil || !strings.Contains(err.Error(), "backup \""+name+"\" was not deleted: refused: "+alice.user+" may not delete backup") {
			t.Errorf("ark backup delete %s as %s: %v\n%s", name, alice.user, err, out)
		}
		for _, r := range processed(name) {
			errs := strings.Join(r.Status.Errors, "; ")
			if !strings.Contains(errs, alice.user) || !strings.Contains(errs, "delete backups.ark.heptio.com "+name+" in namespace "+e.namespace) {
				t.Errorf("request %s: errors %q, want them to name %s and what would allow it", r.Name, errs, alice.user)
			}
		}
		untouched(name)
	}
	// Nor may a request without requester (kubectl).
	plain, err := arkclient.NewForConfig(testCluster.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.ArkV1().DeleteBackupRequests(e.namespace).Create(ctx, &arkv1.DeleteBackupRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "anonymous-", Labels: map[string]string{format.DeleteBackupRequestBackupLabel: "adm1"}},
		Spec:       arkv1.DeleteBackupRequestSpec{BackupName: "adm1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	refusedNoRequester := false
	for _, r := range processed("adm1") {
		if _, ok := authz.RequesterOf(&r); !ok {
			refusedNoRequester = strings.Contains(strings.Join(r.Status.Errors, ";"), "ark CLI")
		}
	}
	if !refusedNoRequester {
		t.Error("a DeleteBackupRequest without requester was not refused, saying to use the ark CLI")
	}
	untouched("adm1")
	untouched("b1")

	// Alice deletes her own backup.
	if out, err := alice.run(e, "backup", "delete", "a1", "--confirm", "--wait"); err != nil || !strings.Contains(out, `Backup "a1" deleted.`) {
		t.Errorf("ark backup delete a1 as %s: %v\n%s", alice.user, err, out)
	}
	e.waitBackupGone("a1")
	if f := filesOf("a1"); len(f) != 0 {
		t.Errorf("files of a1 left: %v", f)
	}
	// Her backup with a TTL expires: the server's own request.
	if out, err := alice.run(e, "backup", "create", "a-ttl", "--include-namespaces", teamA, "--ttl", "5s", "--wait"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	e.waitBackupGone("a-ttl")
	for _, r := range processed("a-ttl") {
		if len(r.Status.Errors) != 0 {
			t.Errorf("expiry request %s: %q", r.Name, r.Status.Errors)
		}
	}

	// The admin deletes bob's backup.
	if out := e.mustRun("backup", "delete", "b1", "--confirm", "--wait"); !strings.Contains(out, `Backup "b1" deleted.`) {
		t.Errorf("admin delete of b1:\n%s", out)
	}
	e.waitBackupGone("b1")
	if f := filesOf("b1"); len(f) != 0 {
		t.Errorf("files of b1 left: %v", f)
	}
	untouched("adm1")
}
