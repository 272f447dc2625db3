package gcp

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

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/heptio/ark/pkg/cloudprovider"
)

// fakeGCE speaks the Compute Engine JSON REST API (v1) for disks, snapshots and their
// operations. Inserts answer an operation RUNNING that is DONE at its first poll; an insert
// whose source is missing answers an operation DONE with an error, as GCE does.
type fakeGCE struct {
	mu        sync.Mutex
	disks     map[string]map[string]any // projects/P/zones/Z/disks/D -> disk JSON
	snapshots map[string]map[string]any // name -> snapshot JSON as inserted
	ops       map[string]map[string]any // operation path -> operation JSON
	running   map[string]int            // operation path -> polls that still answer RUNNING
	requests  []string                  // "METHOD path"
	throttle  bool
	next      int
}

func newFakeGCE() *fakeGCE {
	return &fakeGCE{disks: map[string]map[string]any{}, snapshots: map[string]map[string]any{}, ops: map[string]map[string]any{}, running: map[string]int{}}
}

func gceError(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"code": code, "message": msg, "errors": []any{map[string]any{"reason": reason, "message": msg, "domain": "global"}},
	}})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// operation records an operation under scope ("projects/P/global" or "projects/P/zones/Z")
// and answers it RUNNING.
func (f *fakeGCE) operation(w http.ResponseWriter, scope, target string, opErr error) {
	f.operationPolls(w, scope, target, opErr, 1)
}

// operationPolls records an operation that is RUNNING until its polls-th poll.
func (f *fakeGCE) operationPolls(w http.ResponseWriter, scope, target string, opErr error, polls int) {
	f.next++
	name := fmt.Sprintf("operation-%d", f.next)
	op := map[string]any{"kind": "compute#operation", "name": name, "status": "RUNNING", "targetLink": target, "progress": 0}
	done := map[string]any{"kind": "compute#operation", "name": name, "status": "DONE", "targetLink": target, "progress": 100}
	if polls > 1 {
		f.running[scope+"/operations/"+name] = polls - 1
	}
	if opErr != nil {
		done["httpErrorStatusCode"] = 404
		done["httpErrorMessage"] = "NOT FOUND"
		done["error"] = map[string]any{"errors": []any{map[string]any{"code": "RESOURCE_NOT_FOUND", "message": opErr.Error()}}}
	}
	f.ops[scope+"/operations/"+name] = done
	writeJSON(w, op)
}

func (f *fakeGCE) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	path := strings.TrimPrefix(r.URL.Path, "/compute/v1/")
	f.requests = append(f.requests, r.Method+" "+path)
	if f.throttle {
		gceError(w, http.StatusTooManyRequests, "rateLimitExceeded", "Rate Limit Exceeded")
		return
	}
	var body map[string]any
	if r.Method == http.MethodPost {
		data, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(data, &body); err != nil {
			gceError(w, http.StatusBadRequest, "parseError", "body is not JSON")
			return
		}
	}
	parts := strings.Split(path, "/")
	switch {
	case r.Method == http.MethodGet && strings.Contains(path, "/operations/"):
		op, ok := f.ops[path]
		if !ok {
			gceError(w, http.StatusNotFound, "notFound", "The resource '"+path+"' was not found")
			return
		}
		if f.running[path] > 0 {
			f.running[path]--
			writeJSON(w, map[string]any{"kind": "compute#operation", "name": op["name"], "status": "RUNNING"})
			return
		}
		writeJSON(w, op)
	case r.Method == http.MethodGet && len(parts) == 5 && parts[3] == "snapshots":
		s, ok := f.snapshots[parts[4]]
		if !ok {
			gceError(w, http.StatusNotFound, "notFound", "The resource '"+path+"' was not found")
			return
		}
		// The point in time is taken at once; the upload goes on.
		writeJSON(w, map[string]any{"name": s["name"], "status": "UPLOADING", "sourceDisk": s["sourceDisk"], "description": s["description"], "labels": s["labels"]})
	case r.Method == http.MethodGet && len(parts) == 6 && parts[4] == "disks":
		d, ok := f.disks[path]
		if !ok {
			gceError(w, http.StatusNotFound, "notFound", "The resource '"+path+"' was not found")
			return
		}
		writeJSON(w, d)
		if d["status"] == "CREATING" {
			d["status"] = "READY" // ready at the next look
		}
	case r.Method == http.MethodPost && len(parts) == 4 && parts[2] == "global" && parts[3] == "snapshots":
		src, _ := body["sourceDisk"].(string)
		if _, ok := f.disks[src]; !ok {
			gceError(w, http.StatusNotFound, "notFound", "The resource '"+src+"' was not found")
			return
		}
		name, _ := body["name"].(string)
		f.snapshots[name] = body
		// The upload takes long: the operation runs on (CreateSnapshot returns at UPLOADING).
		f.operationPolls(w, "projects/"+parts[1]+"/global", "projects/"+parts[1]+"/global/snapshots/"+name, nil, 1000)
	case r.Method == http.MethodPost && len(parts) == 5 && parts[4] == "disks":
		name, _ := body["name"].(string)
		src, _ := body["sourceSnapshot"].(string)
		scope := strings.Join(parts[:4], "/")
		var opErr error
		if _, ok := f.snapshots[src[strings.LastIndex(src, "/")+1:]]; !ok {
			opErr = fmt.Errorf("The resource '%s' was not found", src)
		} else {
			d := map[string]any{}
			for k, v := range body {
				d[k] = v
			}
			d["status"] = "CREATING"
			d["zone"] = "https://www.googleapis.com/compute/v1/" + scope
			f.disks[scope+"/disks/"+name] = d
		}
		f.operation(w, scope, scope+"/disks/"+name, opErr)
	case r.Method == http.MethodDelete && len(parts) == 5 && parts[3] == "snapshots":
		if _, ok := f.snapshots[parts[4]]; !ok {
			gceError(w, http.StatusNotFound, "notFound", "The resource '"+path+"' was not found")
			return
		}
		delete(f.snapshots, parts[4])
		f.operation(w, "projects/"+parts[1]+"/global", path, nil)
	default:
		gceError(w, http.StatusNotFound, "notFound", "no route "+r.Method+" "+path)
	}
}

func newTestBlockStore(t *testing.T, f *fakeGCE) *BlockStore {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	b, err := NewBlockStore(context.Background(), BlockStoreOptions{Project: "proj", Endpoint: srv.URL, PollInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestBlockStoreVolumeIDs(t *testing.T) {
	b := &BlockStore{project: "proj"}
	pv := func(spec map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": "pv1"}, "spec": spec}}
	}
	inTree := pv(map[string]any{"gcePersistentDisk": map[string]any{"pdName": "disk-1", "fsType": "ext4"}})
	if id, err := b.GetVolumeID(inTree); err != nil || id != "disk-1" {
		t.Errorf("in-tree: %q, %v", id, err)
	}
	out, err := b.SetVolumeID(inTree, "projects/proj/zones/z1/disks/disk-2")
	if err != nil || out.Object["spec"].(map[string]any)["gcePersistentDisk"].(map[string]any)["pdName"] != "disk-2" {
		t.Errorf("in-tree SetVolumeID: %v, %v", out, err)
	}
	csi := pv(map[string]any{"csi": map[string]any{"driver": PDCSIDriver, "volumeHandle": "projects/p2/zones/z2/disks/d2"}})
	if id, err := b.GetVolumeID(csi); err != nil || id != "projects/p2/zones/z2/disks/d2" {
		t.Errorf("CSI: %q, %v", id, err)
	}
	out, err = b.SetVolumeID(csi, "projects/proj/zones/z2/disks/d3")
	if err != nil || out.Object["spec"].(map[string]any)["csi"].(map[string]any)["volumeHandle"] != "projects/proj/zones/z2/disks/d3" {
		t.Errorf("CSI SetVolumeID: %v, %v", out, err)
	}
	if id, err := b.GetVolumeID(pv(map[string]any{"awsElasticBlockStore": map[string]any{"volumeID": "vol-1"}})); err != nil || id != "" {
		t.Errorf("EBS PV: %q, %v", id, err)
	}
	if _, err := b.parseDisk("disk-1", ""); err == nil {
		t.Error("a disk name without zone: no error")
	}
	if _, err := b.parseDisk("projects/p/regions/r/disks/d", ""); err == nil || !strings.Contains(err.Error(), "regional") {
		t.Errorf("regional disk: %v", err)
	}
}

func TestBlockStoreSnapshotAndRestore(t *testing.T) {
	ctx := context.Background()
	f := newFakeGCE()
	f.disks["projects/proj/zones/us-central1-a/disks/data"] = map[string]any{
		"name": "data", "status": "READY", "sizeGb": "10", "provisionedIops": "10000",
		"zone": "https://www.googleapis.com/compute/v1/projects/proj/zones/us-central1-a",
		"type": "https://www.googleapis.com/compute/v1/projects/proj/zones/us-central1-a/diskTypes/pd-extreme",
	}
	b := newTestBlockStore(t, f)

	info, err := b.GetVolumeInfo(ctx, "data", "us-central1-a")
	if err != nil {
		t.Fatal(err)
	}
	if info.Type != "pd-extreme" || info.Zone != "us-central1-a" || info.IOPS == nil || *info.IOPS != 10000 {
		t.Fatalf("GetVolumeInfo = %+v", info)
	}
	if _, err := b.GetVolumeInfo(ctx, "projects/proj/zones/us-central1-a/disks/data", ""); err != nil {
		t.Fatalf("GetVolumeInfo by path: %v", err)
	}

	tags := map[string]string{"ark.heptio.com/backup": "Nightly.2026", "ark.heptio.com/pv": "pv1"}
	snap, err := b.CreateSnapshot(ctx, "data", "us-central1-a", tags)
	if err != nil {
		t.Fatal(err)
	}
	s := f.snapshots[snap]
	if s == nil || s["sourceDisk"] != "projects/proj/zones/us-central1-a/disks/data" {
		t.Fatalf("snapshot %q inserted as %v", snap, s)
	}
	labels, _ := s["labels"].(map[string]any)
	if labels["ark-heptio-com-backup"] != "nightly-2026" || labels["ark-heptio-com-pv"] != "pv1" {
		t.Errorf("snapshot labels %v", labels)
	}
	if d, _ := s["description"].(string); !strings.Contains(d, `"ark.heptio.com/backup":"Nightly.2026"`) {
		t.Errorf("snapshot description %q does not hold the tags", d)
	}
	if !strings.HasPrefix(snap, "data-") || len(snap) > 63 {
		t.Errorf("snapshot name %q", snap)
	}

	vol, err := b.CreateVolumeFromSnapshot(ctx, snap, "pd-extreme", "us-central1-a", info.IOPS)
	if err != nil {
		t.Fatal(err)
	}
	d := f.disks[vol]
	if d == nil {
		t.Fatalf("volume %q not created (disks %v)", vol, f.disks)
	}
	if d["sourceSnapshot"] != "projects/proj/global/snapshots/"+snap ||
		d["type"] != "projects/proj/zones/us-central1-a/diskTypes/pd-extreme" || d["provisionedIops"] != "10000" {
		t.Errorf("disk inserted as %v", d)
	}
	ready, err := b.IsVolumeReady(ctx, vol, "")
	if err != nil || ready {
		t.Fatalf("IsVolumeReady (creating) = %v, %v", ready, err)
	}
	ready, err = b.IsVolumeReady(ctx, vol, "")
	if err != nil || !ready {
		t.Fatalf("IsVolumeReady (ready) = %v, %v", ready, err)
	}
	// Every insert was followed by a poll of its operation.
	var polls int
	for _, r := range f.requests {
		if strings.Contains(r, "/operations/") {
			polls++
		}
	}
	if polls != 2 {
		t.Errorf("%d operation polls, want 2: %v", polls, f.requests)
	}
	var snapshotGets int
	for _, r := range f.requests {
		if r == "GET projects/proj/global/snapshots/"+snap {
			snapshotGets++
		}
	}
	if snapshotGets != 1 {
		t.Errorf("%d looks at the snapshot, want 1 (it is UPLOADING at once): %v", snapshotGets, f.requests)
	}

	got, err := b.SnapshotTags(ctx, snap)
	if err != nil || got["ark.heptio.com/backup"] != "Nightly.2026" || got["ark.heptio.com/pv"] != "pv1" {
		t.Fatalf("SnapshotTags = %v, %v", got, err)
	}
	if err := b.DeleteSnapshot(ctx, snap); err != nil {
		t.Fatal(err)
	}
	if _, err := b.SnapshotTags(ctx, snap); !errors.Is(err, cloudprovider.ErrSnapshotNotFound) {
		t.Errorf("SnapshotTags of a deleted snapshot: %v", err)
	}
	if _, ok := f.snapshots[snap]; ok {
		t.Error("snapshot not deleted")
	}
	if err := b.DeleteSnapshot(ctx, snap); err != nil {
		t.Errorf("deleting a deleted snapshot: %v", err)
	}
}

func TestBlockStoreErrors(t *testing.T) {
	ctx := context.Background()
	f := newFakeGCE()
	b := newTestBlockStore(t, f)
	_, err := b.GetVolumeInfo(ctx, "missing", "z1")
	if !errors.Is(err, cloudprovider.ErrVolumeNotFound) || !strings.Contains(err.Error(), "projects/proj/zones/z1/disks/missing") {
		t.Errorf("missing disk: %v", err)
	}
	_, err = b.CreateSnapshot(ctx, "missing", "z1", nil)
	if !errors.Is(err, cloudprovider.ErrVolumeNotFound) {
		t.Errorf("snapshot of a missing disk: %v", err)
	}
	// The operation fails: the error comes from polling it.
	_, err = b.CreateVolumeFromSnapshot(ctx, "no-such-snapshot", "pd-ssd", "z1", nil)
	if !errors.Is(err, cloudprovider.ErrSnapshotNotFound) {
		t.Errorf("disk from a missing snapshot: %v", err)
	}
	f.throttle = true
	_, err = b.GetVolumeInfo(ctx, "d", "z1")
	if !errors.Is(err, cloudprovider.ErrThrottled) || !strings.Contains(err.Error(), "429") {
		t.Errorf("throttled: %v", err)
	}
	if _, err := NewBlockStoreFromConfig(ctx, map[string]string{"project": "p", "region": "x"}); !errors.Is(err, cloudprovider.ErrInvalidConfig) {
		t.Errorf("unknown key: %v", err)
	}
	if _, err := NewBlockStoreFromConfig(ctx, map[string]string{}); !errors.Is(err, cloudprovider.ErrInvalidConfig) {
		t.Errorf("no project: %v", err)
	}
}
