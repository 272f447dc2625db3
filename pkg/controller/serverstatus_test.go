package controller

import (
	"context"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/generated/clientset/versioned/fake"
	arkinformers "github.com/heptio/ark/pkg/generated/informers/externalversions"
)

// A new request gets the server's version; a minute after the answer it is deleted.
func TestServerStatusRequest(t *testing.T) {
	ctx := context.Background()
	req := &arkv1.ServerStatusRequest{ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "r1"}}
	client := fake.NewClientset(req)
	indexer := arkinformers.NewSharedInformerFactory(client, 0).Ark().V1().ServerStatusRequests()
	if err := indexer.Informer().GetIndexer().Add(req); err != nil {
		t.Fatal(err)
	}
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	c := NewServerStatusRequestController(indexer.Lister(), client.ArkV1(), ServerVersion{Version: "v1.2.3", GitCommit: "abc"}, clk)

	requeue, err := c.Sync(ctx, "heptio-ark/r1")
	if err != nil || requeue != ServerStatusTTL {
		t.Fatalf("Sync = %s, %v", requeue, err)
	}
	got, err := client.ArkV1().ServerStatusRequests("heptio-ark").Get(ctx, "r1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.Phase != arkv1.ServerStatusRequestPhaseProcessed || got.Status.ServerVersion != "v1.2.3" || got.Status.GitCommit != "abc" {
		t.Fatalf("status = %+v", got.Status)
	}

	if err := indexer.Informer().GetIndexer().Update(got); err != nil {
		t.Fatal(err)
	}
	clk.Step(ServerStatusTTL / 2)
	if requeue, err := c.Sync(ctx, "heptio-ark/r1"); err != nil || requeue != ServerStatusTTL/2 {
		t.Fatalf("Sync before expiry = %s, %v", requeue, err)
	}
	clk.Step(ServerStatusTTL / 2)
	if _, err := c.Sync(ctx, "heptio-ark/r1"); err != nil {
		t.Fatal(err)
	}
	if _, err := client.ArkV1().ServerStatusRequests("heptio-ark").Get(ctx, "r1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the answered request was not deleted: %v", err)
	}
}
