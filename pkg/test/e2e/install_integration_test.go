//go:build integration

package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/buildinfo"
	"github.com/heptio/ark/pkg/cmd/ark"
	"github.com/heptio/ark/pkg/install"
	"github.com/heptio/ark/pkg/test/arkserver"
)

// `ark install --dry-run -o yaml | kubectl apply --dry-run=server -f -` is
// accepted by the API server for every provider, and the server's pod is
// admitted by Pod Security "restricted" (enforced on the namespace) without a
// warning.
func TestInstallDryRunAppliesOnServer(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed")
	}
	ctx := context.Background()
	ns := testCluster.NewNamespace(t)
	nsObj, err := testCluster.Client().CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nsObj.Labels["pod-security.kubernetes.io/enforce"] = "restricted"
	nsObj.Labels["pod-security.kubernetes.io/warn"] = "restricted"
	if _, err := testCluster.Client().CoreV1().Namespaces().Update(ctx, nsObj, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	credentials := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(credentials, []byte("[default]\naws_access_key_id=x\naws_secret_access_key=y\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ provider, config, snapshots string }{
		{"aws", "region=us-east-1,s3Url=http://minio:9000,s3ForcePathStyle=true,publicUrl=http://localhost:9000", "region=us-east-1"},
		{"gcp", "", "project=my-project"},
		{"azure", "storageAccount=acct", "subscriptionId=00000000-0000-0000-0000-000000000000,resourceGroup=rg"},
		{"filesystem", "root=/var/lib/ark", ""},
	} {
		t.Run(tt.provider, func(t *testing.T) {
			args := []string{"install", "--provider", tt.provider, "--bucket", "ark", "--secret-file", credentials, "--dry-run", "-o", "yaml"}
			if tt.config != "" {
				args = append(args, "--backup-location-config", tt.config)
			}
			if tt.snapshots != "" {
				args = append(args, "--snapshot-location-config", tt.snapshots)
			}
			e := &arkEnv{t: t, cluster: testCluster, namespace: ns}
			manifest := e.mustRun(args...)
			cmd := exec.Command(kubectl, "--kubeconfig", testCluster.Kubeconfig(), "apply", "--dry-run=server", "-f", "-")
			cmd.Stdin = strings.NewReader(manifest)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				t.Fatalf("kubectl apply --dry-run=server: %v\n%s\n--- manifest:\n%s", err, out.String(), manifest)
			}
			for _, kind := range []string{"namespace/" + ns, "customresourcedefinition.apiextensions.k8s.io/backups.ark.heptio.com",
				"serviceaccount/ark", "clusterrole.rbac.authorization.k8s.io/ark-" + ns, "secret/cloud-credentials",
				"config.ark.heptio.com/default", "deployment.apps/ark"} {
				if !strings.Contains(out.String(), kind) {
					t.Errorf("kubectl did not apply %s:\n%s", kind, out.String())
				}
			}
			if strings.Contains(out.String(), "PodSecurity") {
				t.Errorf("Pod Security warns about the Deployment:\n%s", out.String())
			}
		})
	}

	// The pod itself passes the enforced "restricted" level.
	objs, err := install.Render(install.Options{Namespace: ns, Provider: "filesystem", Bucket: "ark"})
	if err != nil {
		t.Fatal(err)
	}
	var pod corev1.Pod
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			var tmpl corev1.PodTemplateSpec
			m, _, _ := unstructured.NestedMap(o.Object, "spec", "template")
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &tmpl); err != nil {
				t.Fatal(err)
			}
			pod = corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ark-pod-security"}, Spec: tmpl.Spec}
		}
	}
	pod.Spec.ServiceAccountName = "default"
	if _, err := testCluster.Client().CoreV1().Pods(ns).Create(ctx, &pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatalf("the server's pod is refused in a namespace enforcing restricted: %v", err)
	}
	// A pod that breaks the level is refused there (the check is on).
	pod.Spec.SecurityContext = nil
	if _, err := testCluster.Client().CoreV1().Pods(ns).Create(ctx, &pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err == nil {
		t.Fatal("Pod Security admission does not enforce restricted in this namespace: the check above proves nothing")
	}
}

// `ark install` (filesystem provider) against the real control plane, the
// server run out of cluster as the installed ServiceAccount with exactly the
// installed RBAC (there are no nodes: the Deployment stays Pending), then back
// up, delete, restore; install again changes nothing; `ark version` reads the
// server's version; `ark uninstall` removes the server's objects and keeps the
// bucket.
func TestInstallBackupRestoreUninstall(t *testing.T) {
	ctx := context.Background()
	ns := testCluster.NewNamespace(t)
	bucket := t.TempDir()
	if err := os.MkdirAll(filepath.Join(bucket, "ark"), 0o700); err != nil {
		t.Fatal(err)
	}
	e := &arkEnv{t: t, cluster: testCluster, namespace: ns, bucket: bucket}
	start := time.Now()
	out := e.mustRun("install", "--provider", "filesystem", "--bucket", "ark", "--backup-location-config", "root="+bucket)
	for _, want := range []string{"Namespace/" + ns + " applied", "CustomResourceDefinition/serverstatusrequests.ark.heptio.com applied",
		"ClusterRole/ark-" + ns + " applied", "Config/default applied", "Deployment/ark applied"} {
		if !strings.Contains(out, want) {
			t.Errorf("install output lacks %q:\n%s", want, out)
		}
	}
	t.Cleanup(func() {
		// Whatever the test did, leave no cluster-scoped RBAC behind.
		_ = testCluster.Client().RbacV1().ClusterRoleBindings().Delete(context.Background(), "ark-"+ns, metav1.DeleteOptions{})
		_ = testCluster.Client().RbacV1().ClusterRoles().Delete(context.Background(), "ark-"+ns, metav1.DeleteOptions{})
	})
	deploy, err := testCluster.Client().AppsV1().Deployments(ns).Get(ctx, install.DeploymentName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := deploy.Spec.Template.Spec.Containers[0].Image; img != "heptio/ark:"+buildinfo.Version {
		t.Errorf("image = %s", img)
	}
	t.Logf("ark install took %s", time.Since(start))
	// Installing again is a no-op: nothing the install owns changes (the
	// Deployment's generation counts changes of its spec; the Config's
	// resourceVersion any change).
	cfgBefore, err := testCluster.Dynamic().Resource(arkv1.SchemeGroupVersion.WithResource("configs")).Namespace(ns).Get(ctx, "default", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Again with --wait: there are no nodes, so the server never gets ready and
	// the command says so once --timeout has passed.
	start = time.Now()
	out, err = e.run("install", "--provider", "filesystem", "--bucket", "ark", "--backup-location-config", "root="+bucket, "--wait", "--timeout", "3s")
	if err == nil || !strings.Contains(err.Error(), "is not ready after 3s") {
		t.Errorf("install --wait with no node to run the server: %v\n%s", err, out)
	}
	t.Logf("ark install again took %s", time.Since(start))
	if again, err := testCluster.Client().AppsV1().Deployments(ns).Get(ctx, install.DeploymentName, metav1.GetOptions{}); err != nil || again.Generation != deploy.Generation {
		t.Errorf("a second install changed the Deployment's spec (generation %d -> %d, %v)", deploy.Generation, again.Generation, err)
	}
	if cfgAfter, err := testCluster.Dynamic().Resource(arkv1.SchemeGroupVersion.WithResource("configs")).Namespace(ns).Get(ctx, "default", metav1.GetOptions{}); err != nil || cfgAfter.GetResourceVersion() != cfgBefore.GetResourceVersion() {
		t.Errorf("a second install changed the Config: %v", err)
	}

	e.ark = adminArkClient(t, testCluster)
	e.server = arkserver.New(t, testCluster, arkserver.Options{Namespace: ns, Installed: true})
	e.httpAddr = e.server.Address()
	e.exitErr = e.server.ExitErr
	e.startServer()

	// The server binary's version (make build's git describe), read with the installed RBAC.
	if out := e.mustRun("version"); !regexp.MustCompile(`Server:\nVersion: +\S+\nGit commit: +\S+`).MatchString(out) || strings.Contains(out, "Server:\nVersion:     \n") {
		t.Errorf("ark version:\n%s", out)
	}

	app, names := fixture(t, 20)
	e.mustRun("backup", "create", "b1", "--include-namespaces", app, "--wait")
	if b := e.waitBackupPhase("b1", arkv1.BackupPhaseCompleted); b.Status.Progress == nil || b.Status.Progress.ItemsBackedUp < 21 {
		t.Fatalf("backup: %+v", b.Status)
	}
	if err := testCluster.DeleteNamespaceAndWait(ctx, app, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	e.mustRun("restore", "create", "b1", "--name", "r1", "--wait")
	if r := e.waitRestorePhase("r1", 2*time.Minute, arkv1.RestorePhaseCompleted); r == nil {
		t.Fatal("restore did not complete")
	}
	if n := missingConfigMaps(t, app, names); n != 0 {
		t.Fatalf("%d of %d ConfigMaps were not restored", n, len(names))
	}
	files := bucketFiles(t, bucket)

	// Uninstall: asks first; with --confirm removes the server and its objects, keeps the bucket.
	e.server.Stop() //nolint:errcheck // the Deployment is the server users run; this process stands in for it
	if out, err := e.runWithInput("no\n", "uninstall", "--keep-crds"); err == nil || !strings.Contains(out, "never deletes a bucket's data") {
		t.Fatalf("uninstall without confirmation: %v\n%s", err, out)
	}
	if _, err := testCluster.Client().AppsV1().Deployments(ns).Get(ctx, install.DeploymentName, metav1.GetOptions{}); err != nil {
		t.Fatalf("a cancelled uninstall deleted the Deployment: %v", err)
	}
	start = time.Now()
	out = e.mustRun("uninstall", "--confirm", "--keep-crds")
	t.Logf("ark uninstall took %s", time.Since(start))
	if !strings.Contains(out, "never deletes a bucket's data") {
		t.Errorf("uninstall does not say the bucket is kept:\n%s", out)
	}
	if _, err := testCluster.Client().RbacV1().ClusterRoles().Get(ctx, "ark-"+ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the ClusterRole is still there: %v", err)
	}
	if _, err := testCluster.Client().AppsV1().Deployments(ns).Get(ctx, install.DeploymentName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the Deployment is still there: %v", err)
	}
	waitFor(t, "the namespace to go", func() bool {
		_, err := testCluster.Client().CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	if after := bucketFiles(t, bucket); len(after) != len(files) || len(files) == 0 {
		t.Errorf("the bucket changed: %d files before uninstall, %d after", len(files), len(after))
	}
	for k, v := range files {
		if bucketFiles(t, bucket)[k] != v {
			t.Errorf("bucket file %s changed", k)
		}
	}
}

// runWithInput is run with stdin.
func (e *arkEnv) runWithInput(stdin string, args ...string) (string, error) {
	cmd := ark.NewCommand()
	var out bytes.Buffer
	cmd.SetArgs(append(args, "--kubeconfig", e.cluster.Kubeconfig(), "-n", e.namespace))
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	err := cmd.ExecuteContext(ctx)
	return out.String(), err
}
