//go:build integration

package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	arkclient "github.com/heptio/ark/pkg/generated/clientset/versioned"
	arkinformers "github.com/heptio/ark/pkg/generated/informers/externalversions"
)

// The ark binary's server runs out of cluster with --kubeconfig (the
// ServiceAccount's), says which controllers it runs, and stops cleanly, exit
// code 0, on SIGTERM.
func TestServerBinaryStopsOnSIGTERM(t *testing.T) {
	e := startArk(t, testCluster, envOptions{})
	if err := e.server.WaitControllers(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := e.server.Stop(); err != nil {
		t.Fatalf("ark server after SIGTERM: %v\n%s", err, e.server.LogTail(100))
	}
	if !strings.Contains(e.server.Logs(), "Stopped") {
		t.Errorf("no clean stop in the log:\n%s", e.server.Logs())
	}
}

// A Backup created through the generated clientset is seen by an informer and
// shown by kubectl with the CRD's printer columns.
func TestBackupCRDWithInformerAndKubectl(t *testing.T) {
	ctx := context.Background()
	ns := testCluster.NewNamespace(t)
	client, err := arkclient.NewForConfig(testCluster.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	informers := arkinformers.NewSharedInformerFactoryWithOptions(client, 0, arkinformers.WithNamespace(ns))
	seen := make(chan string, 1)
	if _, err := informers.Ark().V1().Backups().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { seen <- obj.(*arkv1.Backup).Name },
	}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	informers.Start(stop)
	informers.WaitForCacheSync(stop)

	expires := metav1.NewTime(time.Now().Add(72 * time.Hour))
	b := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "printed"}}
	created, err := client.ArkV1().Backups(ns).Create(ctx, b, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status = arkv1.BackupStatus{Phase: arkv1.BackupPhaseCompleted, Expiration: &expires}
	if _, err := client.ArkV1().Backups(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case name := <-seen:
		if name != "printed" {
			t.Errorf("informer saw %q", name)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the informer never saw the backup")
	}

	kubectl := exec.Command("kubectl", "get", "backups", "-n", ns)
	kubectl.Env = append(os.Environ(), "KUBECONFIG="+testCluster.Kubeconfig())
	out, err := kubectl.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if strings.Join(strings.Fields(lines[0]), " ") != "NAME STATUS CREATED EXPIRES" {
		t.Errorf("kubectl header: %q", lines[0])
	}
	if f := strings.Fields(lines[len(lines)-1]); len(f) != 4 || f[0] != "printed" || f[1] != "Completed" || f[3] != expires.UTC().Format(time.RFC3339) {
		t.Errorf("kubectl row: %q", lines[len(lines)-1])
	}
}

// A server killed with SIGKILL (a crash) and started again on the same
// namespace and bucket serves again and finds the backups it made.
func TestServerKilledAndStartedAgain(t *testing.T) {
	ctx := context.Background()
	e := startArk(t, testCluster, envOptions{})
	app := testCluster.NewNamespace(t)
	createConfigMaps(t, testCluster, app, "settings")
	e.mustRun("backup", "create", "before-crash", "--include-namespaces", app, "--wait")
	pid := e.server.Pid()
	e.kill()
	if e.server.Running() {
		t.Fatal("the server still runs after Kill")
	}
	e.startServer()
	if e.server.Pid() == pid {
		t.Errorf("the same process (pid %d) after a restart", pid)
	}
	if err := e.server.WaitControllers(ctx); err != nil {
		t.Fatal(err)
	}
	if out := e.mustRun("restore", "create", "before-crash", "--namespace-mappings", app+":"+app+"-again", "--wait"); !strings.Contains(out, "finished: Completed") {
		t.Fatalf("restore after the restart:\n%s", out)
	}
	t.Cleanup(func() { _ = testCluster.DeleteNamespaceAndWait(context.Background(), app+"-again", time.Minute) })
	if n := strings.Count(e.server.Logs(), "=== arkserver: start #"); n != 2 {
		t.Errorf("%d starts in the log, want 2", n)
	}
}
