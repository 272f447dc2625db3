//go:build integration

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// With no client-side rate limit (the default), the server still lets the
// API server set the pace: a restore whose creates API Priority and Fairness
// squeezes into a priority level of a few seats, with a queue of two and
// rejections (429 with Retry-After) beyond, completes whole; the API server
// did reject some of its requests, and client-go waited and retried them.
func TestRestoreBacksOffOnPriorityAndFairness(t *testing.T) {
	const n = 300
	ctx := context.Background()
	// --single-tenant: by default the server acts as the restore's requester, here the
	// test's admin, whom APF exempts (system:masters); in single-tenant mode the requests
	// are the ServiceAccount's and can be throttled. The retry on 429 is the same client
	// code either way.
	e := startArk(t, testCluster, envOptions{args: []string{"--single-tenant"}})
	src := testCluster.NewNamespace(t)
	createConfigMapsRaw(t, testCluster, src, benchConfigMaps(n))
	if _, err := serverBackup(ctx, e, "paced", src); err != nil {
		t.Fatal(err)
	}

	// Only the restore's creates in the target namespace, by the server's
	// ServiceAccount, go to the narrow priority level.
	dst := src + "-paced"
	t.Cleanup(func() { _ = testCluster.DeleteNamespaceAndWait(context.Background(), dst, 2*time.Minute) })
	name := "ark-e2e-" + e.namespace
	fc := testCluster.Client().FlowcontrolV1()
	pl := &flowcontrolv1.PriorityLevelConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: flowcontrolv1.PriorityLevelConfigurationSpec{
			Type: flowcontrolv1.PriorityLevelEnablementLimited,
			Limited: &flowcontrolv1.LimitedPriorityLevelConfiguration{
				NominalConcurrencyShares: ptr.To[int32](1),
				LendablePercent:          ptr.To[int32](0),
				LimitResponse: flowcontrolv1.LimitResponse{
					Type:    flowcontrolv1.LimitResponseTypeQueue,
					Queuing: &flowcontrolv1.QueuingConfiguration{Queues: 1, HandSize: 1, QueueLengthLimit: 2},
				},
			},
		},
	}
	fs := &flowcontrolv1.FlowSchema{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: flowcontrolv1.FlowSchemaSpec{
			PriorityLevelConfiguration: flowcontrolv1.PriorityLevelConfigurationReference{Name: name},
			MatchingPrecedence:         100,
			DistinguisherMethod:        &flowcontrolv1.FlowDistinguisherMethod{Type: flowcontrolv1.FlowDistinguisherMethodByUserType},
			Rules: []flowcontrolv1.PolicyRulesWithSubjects{{
				Subjects: []flowcontrolv1.Subject{{
					Kind:           flowcontrolv1.SubjectKindServiceAccount,
					ServiceAccount: &flowcontrolv1.ServiceAccountSubject{Namespace: e.namespace, Name: "ark"},
				}},
				ResourceRules: []flowcontrolv1.ResourcePolicyRule{{
					Verbs: []string{"create"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, Namespaces: []string{dst},
				}},
			}},
		},
	}
	if _, err := fc.PriorityLevelConfigurations().Create(ctx, pl, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = fc.PriorityLevelConfigurations().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	if _, err := fc.FlowSchemas().Create(ctx, fs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fc.FlowSchemas().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	// The API server's APF configuration controller picks the new objects up asynchronously.
	waitFor(t, "the FlowSchema to be in use", func() bool {
		got, err := fc.FlowSchemas().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false
		}
		for _, c := range got.Status.Conditions {
			if c.Type == flowcontrolv1.FlowSchemaConditionDangling && c.Status == flowcontrolv1.ConditionFalse {
				return true
			}
		}
		return false
	})

	before := rejectedRequests(t, name)
	if _, err := serverRestore(ctx, e, "paced", "paced", src, dst, n); err != nil {
		t.Fatalf("%v\n%s", err, e.mustRun("restore", "describe", "paced"))
	}
	// n of the test's ConfigMaps, and kube-root-ca.crt, which the cluster makes in
	// every namespace (its backed-up copy is merged into it, not counted twice).
	if got := listRaw(t, testCluster, dst); got != n+1 {
		t.Errorf("%d configmaps in the restored namespace, want %d and kube-root-ca.crt", got, n)
	}
	rejected := rejectedRequests(t, name) - before
	t.Logf("the API server rejected %v of the restore's requests (429); the server retried them", rejected)
	if rejected == 0 {
		t.Errorf("APF rejected none of the restore's requests: the test proves nothing (priority level too wide?)")
	}
}

// rejectedRequests sums apiserver_flowcontrol_rejected_requests_total of the
// priority level from the API server's /metrics.
func rejectedRequests(t *testing.T, priorityLevel string) float64 {
	t.Helper()
	data, err := testCluster.Client().CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 1<<20), 1<<22)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_flowcontrol_rejected_requests_total{") || !strings.Contains(line, `priority_level="`+priorityLevel+`"`) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}
