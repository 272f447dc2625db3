package azure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/heptio/ark/pkg/cloudprovider"
	"github.com/heptio/ark/pkg/format"
)

type fakeCredential struct{}

func (fakeCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "fake-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// fakeARM speaks Azure Resource Manager's JSON for Microsoft.Compute disks and snapshots.
// Snapshot PUTs answer 202 with an Azure-AsyncOperation header (the Compute RP answers a PUT
// 200 or 202, never 201), disk PUTs 202 with a Location
// header, DELETEs 202 with a Location header; each operation reports InProgress (202) once,
// then Succeeded (or Failed).
type fakeARM struct {
	mu        sync.Mutex
	base      string
	resources map[string]map[string]any // lower-cased path -> resource JSON
	ops       map[string]*fakeOp        // operation path -> state
	requests  []string
	bodies    map[string]map[string]any // PUT path -> body
	throttle  bool
	failOps   bool
	next      int
}

type fakeOp struct {
	polls  int
	failed bool
	done   func() // applied when the operation succeeds
	result string // resource path for a Location-polled PUT
}

func newFakeARM() *fakeARM {
	return &fakeARM{resources: map[string]map[string]any{}, ops: map[string]*fakeOp{}, bodies: map[string]map[string]any{}}
}

func armError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-ms-error-code", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg}})
}

func armJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeARM) newOp(op *fakeOp) string {
	f.next++
	path := fmt.Sprintf("/subscriptions/sub/providers/Microsoft.Compute/locations/eastus/operations/op-%d", f.next)
	f.ops[path] = op
	return path
}

func (f *fakeARM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	if r.Header.Get("Authorization") != "Bearer fake-token" {
		armError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "no token")
		return
	}
	if r.URL.Query().Get("api-version") == "" {
		armError(w, http.StatusBadRequest, "MissingApiVersionParameter", "api-version is required")
		return
	}
	if f.throttle {
		armError(w, http.StatusTooManyRequests, "TooManyRequests", "The request is being throttled.")
		return
	}
	path := r.URL.Path
	key := strings.ToLower(path)
	if op, ok := f.ops[path]; ok {
		op.polls++
		status := "InProgress"
		if op.polls > 1 {
			status = "Succeeded"
			if op.failed {
				status = "Failed"
			}
		}
		if op.result != "" { // Location polling
			switch status {
			case "InProgress":
				w.Header().Set("Location", f.base+path+"?api-version=x")
				armJSON(w, http.StatusAccepted, map[string]any{})
			case "Failed":
				armError(w, http.StatusInternalServerError, "InternalError", "the operation failed")
			default:
				if op.polls == 2 && op.done != nil {
					op.done()
				}
				if res := f.resources[op.result]; res != nil {
					// The operation is over: its answer says Succeeded, while a GET of the
					// disk says Updating once, so that IsVolumeReady sees both states.
					final := map[string]any{}
					for k, v := range res {
						final[k] = v
					}
					final["properties"] = map[string]any{"provisioningState": "Succeeded"}
					armJSON(w, http.StatusOK, final)
				} else {
					w.WriteHeader(http.StatusNoContent)
				}
			}
			return
		}
		body := map[string]any{"name": "op", "status": status}
		if status == "Failed" {
			body["error"] = map[string]any{"code": "InternalError", "message": "the operation failed"}
		}
		if status == "Succeeded" && op.polls == 2 && op.done != nil {
			op.done()
		}
		armJSON(w, http.StatusOK, body)
		return
	}
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(parts) != 8 || parts[5] != "Microsoft.Compute" {
		armError(w, http.StatusNotFound, "InvalidResourceType", "no route "+path)
		return
	}
	kind, name := parts[6], parts[7]
	switch r.Method {
	case http.MethodGet:
		res, ok := f.resources[key]
		if !ok {
			armError(w, http.StatusNotFound, "ResourceNotFound", fmt.Sprintf("The Resource 'Microsoft.Compute/%s/%s' under resource group '%s' was not found.", kind, name, parts[3]))
			return
		}
		armJSON(w, http.StatusOK, res)
		if props, _ := res["properties"].(map[string]any); props["provisioningState"] == "Updating" {
			props["provisioningState"] = "Succeeded" // ready at the next look
		}
	case http.MethodPut:
		data, _ := io.ReadAll(r.Body)
		var body map[string]any
		if err := json.Unmarshal(data, &body); err != nil {
			armError(w, http.StatusBadRequest, "InvalidRequestContent", "body is not JSON")
			return
		}
		f.bodies[key] = body
		props, _ := body["properties"].(map[string]any)
		cd, _ := props["creationData"].(map[string]any)
		src, _ := cd["sourceResourceId"].(string)
		if _, ok := f.resources[strings.ToLower(src)]; !ok {
			armError(w, http.StatusNotFound, "NotFound", "Resource "+src+" is not found.")
			return
		}
		res := map[string]any{"id": path, "name": name, "type": "Microsoft.Compute/" + kind}
		for k, v := range body {
			res[k] = v
		}
		done := func() {
			props["provisioningState"] = "Updating" // Succeeded at the first GET
			if kind == "snapshots" {
				props["provisioningState"] = "Succeeded"
			}
			f.resources[key] = res
		}
		if kind == "snapshots" {
			op := f.newOp(&fakeOp{done: done, failed: f.failOps})
			w.Header().Set("Azure-AsyncOperation", f.base+op+"?api-version=x")
			armJSON(w, http.StatusAccepted, map[string]any{"id": path, "name": name, "properties": map[string]any{"provisioningState": "Creating"}})
			return
		}
		op := f.newOp(&fakeOp{done: done, failed: f.failOps, result: key})
		w.Header().Set("Location", f.base+op+"?api-version=x")
		w.WriteHeader(http.StatusAccepted)
	case http.MethodDelete:
		if _, ok := f.resources[key]; !ok {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		op := f.newOp(&fakeOp{done: func() { delete(f.resources, key) }, result: "deleted"})
		w.Header().Set("Location", f.base+op+"?api-version=x")
		w.WriteHeader(http.StatusAccepted)
	default:
		armError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method)
	}
}

const diskID = "/subscriptions/sub/resourceGroups/MC_rg/providers/Microsoft.Compute/disks/pvc-data"

func newTestBlockStore(t *testing.T, f *fakeARM, rg string) *BlockStore {
	t.Helper()
	srv := httptest.NewTLSServer(f)
	t.Cleanup(srv.Close)
	f.base = srv.URL
	b, err := NewBlockStore(context.Background(), BlockStoreOptions{
		SubscriptionID: "sub", ResourceGroup: rg, Endpoint: srv.URL,
		PollInterval: 10 * time.Millisecond, Credential: fakeCredential{}, Transport: srv.Client(), MaxRetries: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBlockStoreVolumeIDs(t *testing.T) {
	b := &BlockStore{subscription: "sub"}
	pv := func(spec map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": "pv1"}, "spec": spec}}
	}
	newID := "/subscriptions/sub/resourceGroups/backups/providers/Microsoft.Compute/disks/restored"
	inTree := pv(map[string]any{"azureDisk": map[string]any{"diskURI": diskID, "diskName": "pvc-data", "kind": "Managed"}})
	if id, err := b.GetVolumeID(inTree); err != nil || id != diskID {
		t.Errorf("in-tree: %q, %v", id, err)
	}
	out, err := b.SetVolumeID(inTree, newID)
	if err != nil {
		t.Fatal(err)
	}
	if ad := out.Object["spec"].(map[string]any)["azureDisk"].(map[string]any); ad["diskURI"] != newID || ad["diskName"] != "restored" {
		t.Errorf("in-tree SetVolumeID: %v", ad)
	}
	csi := pv(map[string]any{"csi": map[string]any{"driver": DiskCSIDriver, "volumeHandle": diskID}})
	if id, err := b.GetVolumeID(csi); err != nil || id != diskID {
		t.Errorf("CSI: %q, %v", id, err)
	}
	if out, err := b.SetVolumeID(csi, newID); err != nil || out.Object["spec"].(map[string]any)["csi"].(map[string]any)["volumeHandle"] != newID {
		t.Errorf("CSI SetVolumeID: %v, %v", out, err)
	}
	if _, err := b.GetVolumeID(pv(map[string]any{"azureDisk": map[string]any{"diskURI": "https://acct.blob.core.windows.net/vhds/d.vhd", "kind": "Dedicated"}})); err == nil {
		t.Error("unmanaged disk: no error")
	}
	if id, err := b.GetVolumeID(pv(map[string]any{"hostPath": map[string]any{"path": "/x"}})); err != nil || id != "" {
		t.Errorf("hostPath: %q, %v", id, err)
	}
	if _, err := b.SetVolumeID(csi, "not-an-id"); err == nil {
		t.Error("SetVolumeID with a bad ID: no error")
	}
}

func TestBlockStoreSnapshotAndRestore(t *testing.T) {
	ctx := context.Background()
	f := newFakeARM()
	f.resources[strings.ToLower(diskID)] = map[string]any{
		"id": diskID, "name": "pvc-data", "location": "eastus", "zones": []any{"2"},
		"sku":        map[string]any{"name": "UltraSSD_LRS"},
		"properties": map[string]any{"diskIOPSReadWrite": 8000, "provisioningState": "Succeeded", "diskSizeGB": 64},
	}
	b := newTestBlockStore(t, f, "ark-backups")

	info, err := b.GetVolumeInfo(ctx, diskID, "")
	if err != nil {
		t.Fatal(err)
	}
	if info.Type != "UltraSSD_LRS" || info.Zone != "2" || info.IOPS == nil || *info.IOPS != 8000 {
		t.Fatalf("GetVolumeInfo = %+v", info)
	}

	snap, err := b.CreateSnapshot(ctx, diskID, "2", map[string]string{"ark.heptio.com/backup": "nightly"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(snap, "/subscriptions/sub/resourceGroups/ark-backups/providers/Microsoft.Compute/snapshots/pvc-data-") {
		t.Errorf("snapshot ID %q", snap)
	}
	body := f.bodies[strings.ToLower(snap)]
	if body == nil {
		t.Fatalf("no PUT of %s: %v", snap, f.requests)
	}
	props := body["properties"].(map[string]any)
	cd := props["creationData"].(map[string]any)
	if body["location"] != "eastus" || cd["createOption"] != "Copy" || cd["sourceResourceId"] != diskID || props["incremental"] != true {
		t.Errorf("snapshot PUT body %v", body)
	}
	if tags, _ := body["tags"].(map[string]any); tags["ark.heptio.com-backup"] != "nightly" {
		t.Errorf("snapshot tags %v", body["tags"])
	}

	vol, err := b.CreateVolumeFromSnapshot(ctx, snap, info.Type, info.Zone, info.IOPS)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(vol, "/subscriptions/sub/resourceGroups/ark-backups/providers/Microsoft.Compute/disks/restore-pvc-data-") {
		t.Errorf("volume ID %q", vol)
	}
	body = f.bodies[strings.ToLower(vol)]
	props, _ = body["properties"].(map[string]any)
	cd, _ = props["creationData"].(map[string]any)
	if cd["sourceResourceId"] != snap || body["sku"].(map[string]any)["name"] != "UltraSSD_LRS" ||
		fmt.Sprint(body["zones"]) != "[2]" || props["diskIOPSReadWrite"] != float64(8000) || body["location"] != "eastus" {
		t.Errorf("disk PUT body %v", body)
	}
	ready, err := b.IsVolumeReady(ctx, vol, "")
	if err != nil || ready {
		t.Fatalf("IsVolumeReady (updating) = %v, %v", ready, err)
	}
	if ready, err = b.IsVolumeReady(ctx, vol, ""); err != nil || !ready {
		t.Fatalf("IsVolumeReady (succeeded) = %v, %v", ready, err)
	}

	if tags, err := b.SnapshotTags(ctx, snap); err != nil || tags[format.BackupTag] != "nightly" {
		t.Fatalf("SnapshotTags = %v, %v", tags, err)
	}
	if err := b.DeleteSnapshot(ctx, snap); err != nil {
		t.Fatal(err)
	}
	if _, err := b.SnapshotTags(ctx, snap); !errors.Is(err, cloudprovider.ErrSnapshotNotFound) {
		t.Errorf("SnapshotTags of a deleted snapshot: %v", err)
	}
	if _, ok := f.resources[strings.ToLower(snap)]; ok {
		t.Error("snapshot not deleted")
	}
	if err := b.DeleteSnapshot(ctx, snap); err != nil {
		t.Errorf("deleting a deleted snapshot: %v", err)
	}
	// Each long-running operation was polled until it succeeded.
	polls := 0
	for _, r := range f.requests {
		if strings.Contains(r, "/operations/") {
			polls++
		}
	}
	if polls != 6 {
		t.Errorf("%d operation polls, want 6 (2 for each of 3 operations): %v", polls, f.requests)
	}
}

func TestBlockStoreErrors(t *testing.T) {
	ctx := context.Background()
	f := newFakeARM()
	f.resources[strings.ToLower(diskID)] = map[string]any{"id": diskID, "name": "pvc-data", "location": "eastus",
		"sku": map[string]any{"name": "Premium_LRS"}, "properties": map[string]any{"provisioningState": "Succeeded"}}
	b := newTestBlockStore(t, f, "")

	missing := strings.Replace(diskID, "pvc-data", "gone", 1)
	_, err := b.GetVolumeInfo(ctx, missing, "")
	if !errors.Is(err, cloudprovider.ErrVolumeNotFound) || !strings.Contains(err.Error(), "ResourceNotFound") {
		t.Errorf("missing disk: %v", err)
	}
	_, err = b.CreateVolumeFromSnapshot(ctx, "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Compute/snapshots/gone", "Premium_LRS", "", nil)
	if !errors.Is(err, cloudprovider.ErrSnapshotNotFound) {
		t.Errorf("disk from a missing snapshot: %v", err)
	}
	f.failOps = true
	_, err = b.CreateSnapshot(ctx, diskID, "", nil)
	if err == nil || !strings.Contains(err.Error(), "InternalError") {
		t.Errorf("failed operation: %v", err)
	}
	f.failOps = false
	// Without resourceGroup, the snapshot goes to the disk's group.
	snap, err := b.CreateSnapshot(ctx, diskID, "", nil)
	if err != nil || !strings.Contains(snap, "/resourceGroups/MC_rg/") {
		t.Errorf("snapshot %q, %v", snap, err)
	}
	f.throttle = true
	_, err = b.GetVolumeInfo(ctx, diskID, "")
	if !errors.Is(err, cloudprovider.ErrThrottled) || strings.Contains(err.Error(), "fake-token") {
		t.Errorf("throttled: %v", err)
	}
	if _, err := b.GetVolumeInfo(ctx, strings.Replace(diskID, "/sub/", "/other/", 1), ""); err == nil {
		t.Error("a disk of another subscription: no error")
	}
	for _, c := range []map[string]string{{}, {"subscriptionId": "s", "bucket": "x"}, {"subscriptionId": "s", "resourceManagerEndpoint": "http://x"}, {"subscriptionId": "s", "pollInterval": "10ms"}} {
		if _, err := NewBlockStoreFromConfig(ctx, c); !errors.Is(err, cloudprovider.ErrInvalidConfig) {
			t.Errorf("config %v: %v", c, err)
		}
	}
}
