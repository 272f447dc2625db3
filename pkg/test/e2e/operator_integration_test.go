//go:build integration

package e2e

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// After a real backup, /metrics counts it, the Backup has Events telling its
// story, and /healthz and /readyz answer.
func TestMetricsEventsAndHealth(t *testing.T) {
	ctx := context.Background()
	e := startArk(t, testCluster, envOptions{})
	app := testCluster.NewNamespace(t)
	createConfigMaps(t, testCluster, app, "one", "two")
	waitFor(t, "kube-root-ca.crt from the root CA publisher", func() bool {
		_, err := testCluster.Client().CoreV1().ConfigMaps(app).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return err == nil
	})
	e.mustRun("backup", "create", "observed", "--include-namespaces", app, "--wait")
	if out, err := e.run("backup", "create", "invalid", "--include-resources", "no-such-things", "--wait"); err == nil {
		t.Fatalf("an invalid backup completed:\n%s", out)
	}

	base := "http://" + e.httpAddr
	if code, body := httpGet(t, base+"/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := httpGet(t, base+"/readyz"); code != 200 {
		t.Errorf("/readyz = %d %q", code, body)
	}
	code, metrics := httpGet(t, base+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{
		`ark_backup_attempt_total{schedule=""} 1`,
		`ark_backup_success_total{schedule=""} 1`,
		`ark_backup_failure_total{schedule=""} 1`, // the invalid one
		`ark_backup_duration_seconds_count{schedule=""} 1`,
		`ark_backup_last_successful_timestamp_seconds{schedule=""}`,
		`ark_backup_tarball_size_bytes{schedule=""}`,
		// The controllers' work queues, through client-go's metrics provider.
		`workqueue_adds_total{name="backup"}`,
		`workqueue_depth{name="restore"}`,
		`workqueue_work_duration_seconds_count{name="backup"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// The namespace, its two ConfigMaps, its default ServiceAccount and the
	// kube-root-ca.crt ConfigMap the root CA publisher puts in it.
	if !strings.Contains(metrics, `ark_backup_items_total{schedule=""} 5`) {
		t.Errorf("items backed up:\n%s", grep(metrics, "ark_backup_items_total"))
	}

	waitFor(t, "the backup's events", func() bool {
		events, err := testCluster.Client().CoreV1().Events(e.namespace).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=observed"})
		return err == nil && hasReasons(events.Items, "Started", "Completed")
	})
	waitFor(t, "the invalid backup's event", func() bool {
		events, err := testCluster.Client().CoreV1().Events(e.namespace).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=invalid"})
		return err == nil && hasReasons(events.Items, "FailedValidation")
	})
}

func hasReasons(events []corev1.Event, reasons ...string) bool {
	seen := map[string]bool{}
	for _, e := range events {
		seen[e.Reason] = true
	}
	for _, r := range reasons {
		if !seen[r] {
			return false
		}
	}
	return true
}

func grep(text, word string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
