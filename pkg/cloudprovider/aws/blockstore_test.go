package aws

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/heptio/ark/pkg/cloudprovider"
)

// fakeEC2 speaks the EC2 Query API: form-encoded POSTs (Action=...&Version=...), XML answers,
// errors as <Response><Errors><Error><Code>.
type fakeEC2 struct {
	mu        sync.Mutex
	volumes   map[string]*fakeVolume
	snapshots map[string]url.Values // snapshot ID -> the CreateSnapshot request
	requests  []url.Values
	throttle  map[string]bool // actions answered with RequestLimitExceeded
	next      int
}

type fakeVolume struct {
	ID, Type, Zone, State string
	IOPS                  int
	FromSnapshot          string
}

func newFakeEC2() *fakeEC2 {
	return &fakeEC2{volumes: map[string]*fakeVolume{}, snapshots: map[string]url.Values{}, throttle: map[string]bool{}}
}

func (f *fakeEC2) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		http.Error(w, "not an EC2 query request", http.StatusBadRequest)
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		http.Error(w, "unsigned", http.StatusForbidden)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	form := r.PostForm
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, form)
	action := form.Get("Action")
	if f.throttle[action] {
		ec2Error(w, http.StatusServiceUnavailable, "RequestLimitExceeded", "Request limit exceeded.")
		return
	}
	switch action {
	case "DescribeVolumes":
		var items strings.Builder
		for i := 1; ; i++ {
			id := form.Get(fmt.Sprintf("VolumeId.%d", i))
			if id == "" {
				break
			}
			v, ok := f.volumes[id]
			if !ok {
				ec2Error(w, http.StatusBadRequest, "InvalidVolume.NotFound", fmt.Sprintf("The volume '%s' does not exist.", id))
				return
			}
			fmt.Fprintf(&items, "<item><volumeId>%s</volumeId><size>10</size><availabilityZone>%s</availabilityZone><status>%s</status><volumeType>%s</volumeType><iops>%d</iops><encrypted>false</encrypted></item>",
				v.ID, v.Zone, v.State, v.Type, v.IOPS)
			if v.State == "creating" {
				v.State = "available" // ready at the next look
			}
		}
		ec2Answer(w, "DescribeVolumes", "<volumeSet>"+items.String()+"</volumeSet>")
	case "CreateSnapshot":
		id := form.Get("VolumeId")
		if _, ok := f.volumes[id]; !ok {
			ec2Error(w, http.StatusBadRequest, "InvalidVolume.NotFound", fmt.Sprintf("The volume '%s' does not exist.", id))
			return
		}
		f.next++
		snap := fmt.Sprintf("snap-%04d", f.next)
		f.snapshots[snap] = form
		ec2Answer(w, "CreateSnapshot", fmt.Sprintf("<snapshotId>%s</snapshotId><volumeId>%s</volumeId><status>pending</status><volumeSize>10</volumeSize>", snap, id))
	case "CreateVolume":
		snap := form.Get("SnapshotId")
		if _, ok := f.snapshots[snap]; !ok {
			ec2Error(w, http.StatusBadRequest, "InvalidSnapshot.NotFound", fmt.Sprintf("The snapshot '%s' does not exist.", snap))
			return
		}
		f.next++
		v := &fakeVolume{ID: fmt.Sprintf("vol-new%04d", f.next), Type: form.Get("VolumeType"), Zone: form.Get("AvailabilityZone"), State: "creating", FromSnapshot: snap}
		if v.Type == "" {
			v.Type = "gp2"
		}
		fmt.Sscan(form.Get("Iops"), &v.IOPS)
		f.volumes[v.ID] = v
		ec2Answer(w, "CreateVolume", fmt.Sprintf("<volumeId>%s</volumeId><size>10</size><snapshotId>%s</snapshotId><availabilityZone>%s</availabilityZone><status>creating</status><volumeType>%s</volumeType>", v.ID, snap, v.Zone, v.Type))
	case "DescribeSnapshots":
		id := form.Get("SnapshotId.1")
		created, ok := f.snapshots[id]
		if !ok {
			ec2Error(w, http.StatusBadRequest, "InvalidSnapshot.NotFound", fmt.Sprintf("The snapshot '%s' does not exist.", id))
			return
		}
		var tags strings.Builder
		for i := 1; created.Has(fmt.Sprintf("TagSpecification.1.Tag.%d.Key", i)); i++ {
			fmt.Fprintf(&tags, "<item><key>%s</key><value>%s</value></item>",
				created.Get(fmt.Sprintf("TagSpecification.1.Tag.%d.Key", i)), created.Get(fmt.Sprintf("TagSpecification.1.Tag.%d.Value", i)))
		}
		ec2Answer(w, "DescribeSnapshots", fmt.Sprintf("<snapshotSet><item><snapshotId>%s</snapshotId><status>completed</status><tagSet>%s</tagSet></item></snapshotSet>", id, tags.String()))
	case "DeleteSnapshot":
		snap := form.Get("SnapshotId")
		if _, ok := f.snapshots[snap]; !ok {
			ec2Error(w, http.StatusBadRequest, "InvalidSnapshot.NotFound", fmt.Sprintf("The snapshot '%s' does not exist.", snap))
			return
		}
		delete(f.snapshots, snap)
		ec2Answer(w, "DeleteSnapshot", "<return>true</return>")
	default:
		ec2Error(w, http.StatusBadRequest, "InvalidAction", "The action "+action+" is not valid for this web service.")
	}
}

func ec2Answer(w http.ResponseWriter, action, body string) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<%sResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>req-1</requestId>%s</%sResponse>`, action, body, action)
}

func ec2Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(status)
	var esc strings.Builder
	_ = xml.EscapeText(&esc, []byte(msg))
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>req-err</RequestID></Response>`, code, esc.String())
}

func (f *fakeEC2) lastRequest(action string) url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.requests) - 1; i >= 0; i-- {
		if f.requests[i].Get("Action") == action {
			return f.requests[i]
		}
	}
	return nil
}

func newTestBlockStore(t *testing.T, f *fakeEC2) *BlockStore {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	b, err := NewBlockStore(context.Background(), BlockStoreOptions{
		Region:      "us-east-1",
		Endpoint:    srv.URL,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret-do-not-print", ""),
		MaxAttempts: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pvFrom(t *testing.T, spec map[string]any) *unstructured.Unstructured {
	t.Helper()
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "PersistentVolume",
		"metadata": map[string]any{"name": "pv1"},
		"spec":     spec,
	}}
}

func TestBlockStoreVolumeIDs(t *testing.T) {
	b := &BlockStore{}
	for _, tc := range []struct {
		name string
		spec map[string]any
		want string
		set  map[string]any
	}{
		{"in-tree plain", map[string]any{"awsElasticBlockStore": map[string]any{"volumeID": "vol-1"}}, "vol-1",
			map[string]any{"awsElasticBlockStore": map[string]any{"volumeID": "vol-9"}}},
		{"in-tree URL", map[string]any{"awsElasticBlockStore": map[string]any{"volumeID": "aws://us-east-1a/vol-2", "fsType": "ext4"}}, "vol-2",
			map[string]any{"awsElasticBlockStore": map[string]any{"volumeID": "aws://us-east-1a/vol-9", "fsType": "ext4"}}},
		{"CSI", map[string]any{"csi": map[string]any{"driver": EBSCSIDriver, "volumeHandle": "vol-3"}}, "vol-3",
			map[string]any{"csi": map[string]any{"driver": EBSCSIDriver, "volumeHandle": "vol-9"}}},
		{"other CSI driver", map[string]any{"csi": map[string]any{"driver": "pd.csi.storage.gke.io", "volumeHandle": "x"}}, "", nil},
		{"NFS", map[string]any{"nfs": map[string]any{"server": "s", "path": "/"}}, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pv := pvFrom(t, tc.spec)
			got, err := b.GetVolumeID(pv)
			if err != nil || got != tc.want {
				t.Fatalf("GetVolumeID = %q, %v; want %q", got, err, tc.want)
			}
			out, err := b.SetVolumeID(pv, "vol-9")
			if tc.set == nil {
				if err == nil {
					t.Fatal("SetVolumeID on a foreign PV: no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(out.Object["spec"]) != fmt.Sprint(tc.set) {
				t.Errorf("SetVolumeID: spec %v, want %v", out.Object["spec"], tc.set)
			}
			if fmt.Sprint(pv.Object["spec"]) != fmt.Sprint(tc.spec) {
				t.Error("SetVolumeID changed its argument")
			}
		})
	}
	if _, err := b.GetVolumeID(pvFrom(t, map[string]any{"awsElasticBlockStore": map[string]any{"volumeID": ""}})); err == nil {
		t.Error("empty volumeID: no error")
	}
}

func TestBlockStoreSnapshotAndRestore(t *testing.T) {
	ctx := context.Background()
	f := newFakeEC2()
	f.volumes["vol-io2"] = &fakeVolume{ID: "vol-io2", Type: "io2", Zone: "us-east-1b", State: "in-use", IOPS: 4000}
	f.volumes["vol-gp2"] = &fakeVolume{ID: "vol-gp2", Type: "gp2", Zone: "us-east-1a", State: "in-use", IOPS: 100}
	b := newTestBlockStore(t, f)

	info, err := b.GetVolumeInfo(ctx, "vol-io2", "")
	if err != nil {
		t.Fatal(err)
	}
	if info.Type != "io2" || info.Zone != "us-east-1b" || info.IOPS == nil || *info.IOPS != 4000 {
		t.Fatalf("GetVolumeInfo = %+v", info)
	}
	if r := f.lastRequest("DescribeVolumes"); r.Get("VolumeId.1") != "vol-io2" || r.Get("Version") == "" {
		t.Errorf("DescribeVolumes request %v", r)
	}
	gp2, err := b.GetVolumeInfo(ctx, "vol-gp2", "")
	if err != nil || gp2.IOPS != nil || gp2.Type != "gp2" {
		t.Fatalf("gp2 GetVolumeInfo = %+v, %v (gp2 IOPS are not provisioned)", gp2, err)
	}

	snap, err := b.CreateSnapshot(ctx, "vol-io2", "us-east-1b", map[string]string{"ark.heptio.com/backup": "nightly", "ark.heptio.com/pv": "pv1"})
	if err != nil {
		t.Fatal(err)
	}
	r := f.lastRequest("CreateSnapshot")
	want := map[string]string{
		"VolumeId":                        "vol-io2",
		"Description":                     "ark backup nightly",
		"TagSpecification.1.ResourceType": "snapshot",
		"TagSpecification.1.Tag.1.Key":    "ark.heptio.com/backup",
		"TagSpecification.1.Tag.1.Value":  "nightly",
		"TagSpecification.1.Tag.2.Key":    "ark.heptio.com/pv",
		"TagSpecification.1.Tag.2.Value":  "pv1",
	}
	for k, v := range want {
		if r.Get(k) != v {
			t.Errorf("CreateSnapshot %s = %q, want %q (request %v)", k, r.Get(k), v, r)
		}
	}

	vol, err := b.CreateVolumeFromSnapshot(ctx, snap, "io2", "us-east-1b", info.IOPS)
	if err != nil {
		t.Fatal(err)
	}
	r = f.lastRequest("CreateVolume")
	for k, v := range map[string]string{"SnapshotId": snap, "VolumeType": "io2", "AvailabilityZone": "us-east-1b", "Iops": "4000",
		"TagSpecification.1.ResourceType": "volume"} {
		if r.Get(k) != v {
			t.Errorf("CreateVolume %s = %q, want %q", k, r.Get(k), v)
		}
	}
	ready, err := b.IsVolumeReady(ctx, vol, "us-east-1b")
	if err != nil || ready {
		t.Fatalf("IsVolumeReady (creating) = %v, %v", ready, err)
	}
	ready, err = b.IsVolumeReady(ctx, vol, "us-east-1b")
	if err != nil || !ready {
		t.Fatalf("IsVolumeReady (available) = %v, %v", ready, err)
	}

	// gp2 takes no IOPS.
	if _, err := b.CreateVolumeFromSnapshot(ctx, snap, "gp2", "us-east-1a", aws64(100)); err != nil {
		t.Fatal(err)
	}
	if r := f.lastRequest("CreateVolume"); r.Has("Iops") {
		t.Errorf("gp2 CreateVolume sent Iops=%s", r.Get("Iops"))
	}
	// Nor does the default type.
	if _, err := b.CreateVolumeFromSnapshot(ctx, snap, "", "us-east-1a", aws64(100)); err != nil {
		t.Fatal(err)
	}
	if r := f.lastRequest("CreateVolume"); r.Has("Iops") || r.Has("VolumeType") {
		t.Errorf("CreateVolume without a type sent %v", r)
	}

	tags, err := b.SnapshotTags(ctx, snap)
	if err != nil || tags["ark.heptio.com/backup"] != "nightly" || tags["ark.heptio.com/pv"] != "pv1" {
		t.Fatalf("SnapshotTags = %v, %v", tags, err)
	}
	if err := b.DeleteSnapshot(ctx, snap); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteSnapshot(ctx, snap); err != nil {
		t.Fatalf("deleting a deleted snapshot: %v", err)
	}
	if _, err := b.SnapshotTags(ctx, snap); !errors.Is(err, cloudprovider.ErrSnapshotNotFound) {
		t.Fatalf("SnapshotTags of a deleted snapshot: %v", err)
	}
}

func aws64(v int64) *int64 { return &v }

func TestBlockStoreErrors(t *testing.T) {
	ctx := context.Background()
	f := newFakeEC2()
	f.volumes["vol-1"] = &fakeVolume{ID: "vol-1", Type: "gp3", Zone: "us-east-1a", State: "in-use", IOPS: 3000}
	b := newTestBlockStore(t, f)

	_, err := b.GetVolumeInfo(ctx, "vol-missing", "")
	if !errors.Is(err, cloudprovider.ErrVolumeNotFound) || !strings.Contains(err.Error(), "vol-missing") {
		t.Errorf("missing volume: %v", err)
	}
	_, err = b.CreateSnapshot(ctx, "vol-missing", "", nil)
	if !errors.Is(err, cloudprovider.ErrVolumeNotFound) {
		t.Errorf("snapshot of a missing volume: %v", err)
	}
	_, err = b.CreateVolumeFromSnapshot(ctx, "snap-missing", "gp3", "us-east-1a", nil)
	if !errors.Is(err, cloudprovider.ErrSnapshotNotFound) {
		t.Errorf("volume from a missing snapshot: %v", err)
	}
	f.throttle["CreateSnapshot"] = true
	_, err = b.CreateSnapshot(ctx, "vol-1", "", map[string]string{"ark.heptio.com/backup": "b"})
	if !errors.Is(err, cloudprovider.ErrThrottled) || !strings.Contains(err.Error(), "RequestLimitExceeded") {
		t.Errorf("throttled: %v", err)
	}
	if strings.Contains(err.Error(), "secret-do-not-print") {
		t.Errorf("the error holds the secret key: %v", err)
	}
	var be *cloudprovider.BlockStoreError
	if !errors.As(err, &be) || be.Op != "create snapshot" || be.ID != "vol-1" {
		t.Errorf("error %#v", err)
	}
}

func TestBlockStoreConfig(t *testing.T) {
	ctx := context.Background()
	if _, err := NewBlockStoreFromConfig(ctx, map[string]string{"region": "us-east-1", "s3Url": "http://x"}); !errors.Is(err, cloudprovider.ErrInvalidConfig) {
		t.Errorf("unknown key: %v", err)
	}
	if _, err := NewBlockStoreFromConfig(ctx, map[string]string{}); !errors.Is(err, cloudprovider.ErrInvalidConfig) {
		t.Errorf("no region: %v", err)
	}
	if _, err := NewBlockStoreFromConfig(ctx, map[string]string{"region": "us-east-1", "ec2Url": "ftp://x"}); !errors.Is(err, cloudprovider.ErrInvalidConfig) {
		t.Errorf("bad ec2Url: %v", err)
	}
	if _, err := NewBlockStoreFromConfig(ctx, map[string]string{"region": "us-east-1", "ec2Url": "http://127.0.0.1:1"}); err != nil {
		t.Errorf("valid config: %v", err)
	}
}
