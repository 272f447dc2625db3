package controller

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/authz"
	"github.com/heptio/ark/pkg/format"
)

// serverUser is who the fake API server says the ark server is.
const serverUser = "system:serviceaccount:" + lcNS + ":ark"

// fakeKube answers SubjectAccessReviews: only the users in deleters may
// delete backups in lcNS (fail: no answer at all); and SelfSubjectReviews:
// the caller is serverUser.
func fakeKube(deleters map[string]bool, fail *error) *kubefake.Clientset {
	c := kubefake.NewClientset()
	c.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if *fail != nil {
			return true, nil, *fail
		}
		sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
		ra := sar.Spec.ResourceAttributes
		sar.Status.Allowed = deleters[sar.Spec.User] && ra.Verb == "delete" && ra.Group == arkv1.GroupName && ra.Resource == "backups" && ra.Namespace == lcNS
		return true, sar, nil
	})
	c.PrependReactor("create", "selfsubjectreviews", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, &authenticationv1.SelfSubjectReview{Status: authenticationv1.SelfSubjectReviewStatus{
			UserInfo: authenticationv1.UserInfo{Username: serverUser, Groups: []string{"system:serviceaccounts", "system:authenticated"}}}}, nil
	})
	return c
}

// A DeleteBackupRequest is carried out only for the backup's requester or
// who may delete backups; a refused one ends Processed saying why, with the
// backup, its files, snapshots and restores untouched.
func TestDeletionAuthorization(t *testing.T) {
	alice := authz.Requester{Username: "alice", Groups: []string{"team-a"}}
	tests := []struct {
		name        string
		requester   string // "": none recorded
		phase       arkv1.DeleteBackupRequestPhase
		single      bool
		reviewFails bool
		wantDeleted bool
		wantErrs    []string // in status.errors of a refused request
	}{
		{name: "its requester", requester: "alice", wantDeleted: true},
		{name: "who may delete backups", requester: "admin", wantDeleted: true},
		{name: "another user", requester: "bob", wantErrs: []string{"refused", `bob may not delete backup "b"`, "its requester is alice", "delete backups.ark.heptio.com b in namespace " + lcNS}},
		{name: "no requester", wantErrs: []string{"refused", "no requester recorded", "ark CLI"}},
		{name: "the review cannot be made", requester: "admin", reviewFails: true},
		{name: "authorized when it was taken up: not asked again", requester: "bob", phase: arkv1.DeleteBackupRequestPhaseInProgress, reviewFails: true, wantDeleted: true},
		{name: "single-tenant: anyone", requester: "bob", single: true, wantDeleted: true},
		{name: "single-tenant: no requester", single: true, wantDeleted: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, bucketDir := newTestBucket(t)
			b := completedBackup("b", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z")
			authz.SetRequester(b, alice)
			b.Status.VolumeBackups = map[string]*arkv1.VolumeBackupInfo{"pv": {SnapshotID: "snap-b"}}
			putBackup(t, store, b)
			req := newRequest("del-b", "b")
			if tt.requester != "" {
				authz.SetRequester(req, authz.Requester{Username: tt.requester})
			}
			req.Status.Phase = tt.phase
			e := newLCEnv(t, utc("2026-01-02T00:00:00Z"), b, req, restoreOf("b-r1", "b", arkv1.RestorePhaseCompleted))
			snaps := &fakeSnapshotDeleter{tags: map[string]string{"snap-b": "b"}}
			var fail error
			if tt.reviewFails {
				fail = errors.New("connection refused")
			}
			kube := fakeKube(map[string]bool{"admin": true}, &fail)
			deletions := authz.NewDeletions(authz.NewTenancy(&rest.Config{}, kube.AuthorizationV1(), tt.single), kube.AuthenticationV1())
			v1 := e.informers.Ark().V1()
			c := NewDeletionController(v1.DeleteBackupRequests().Lister(), v1.Backups().Lister(), v1.Restores().Lister(), e.client.ArkV1(), store, snaps, time.Hour,
				WithDeletionAuthorizer(deletions))
			_, err := runDeletion(t, e, c, lcNS+"/del-b")
			got := e.requests()["del-b"]
			_, backupLeft := e.backups()["b"]
			files := filesOf(t, bucketDir, "b")
			rl, _ := e.client.ArkV1().Restores(lcNS).List(context.Background(), metav1.ListOptions{})
			if tt.wantDeleted {
				if err != nil || got.Status.Phase != arkv1.DeleteBackupRequestPhaseProcessed || len(got.Status.Errors) != 0 {
					t.Fatalf("err %v, request %+v", err, got.Status)
				}
				if backupLeft || len(files) != 0 || len(snaps.deleted) != 1 || len(rl.Items) != 0 {
					t.Errorf("not deleted: object %v, files %v, snapshots deleted %v, restores %d", backupLeft, files, snaps.deleted, len(rl.Items))
				}
				return
			}
			if !backupLeft || len(files) != 4 || len(snaps.deleted) != 0 || len(rl.Items) != 1 {
				t.Errorf("touched: object left %v, files %v, snapshots deleted %v, restores %d", backupLeft, files, snaps.deleted, len(rl.Items))
			}
			if e.backups()["b"].Status.Phase != arkv1.BackupPhaseCompleted {
				t.Errorf("backup phase %s", e.backups()["b"].Status.Phase)
			}
			if _, pinned := got.Annotations[format.TargetObjectAnnotation]; pinned {
				t.Errorf("a request not carried out was pinned: %v", got.Annotations)
			}
			errs := strings.Join(got.Status.Errors, "; ")
			if tt.reviewFails {
				// Retried, still New: nothing is known to be allowed.
				if err == nil || got.Status.Phase != arkv1.DeleteBackupRequestPhaseNew || !strings.Contains(errs, "connection refused") {
					t.Errorf("err %v, request %+v", err, got.Status)
				}
				return
			}
			if err != nil || got.Status.Phase != arkv1.DeleteBackupRequestPhaseProcessed {
				t.Fatalf("err %v, request %+v", err, got.Status)
			}
			for _, w := range tt.wantErrs {
				if !strings.Contains(errs, w) {
					t.Errorf("status.errors %q, want %q in them", errs, w)
				}
			}
			// A refused request is not looked at again.
			if _, err := runDeletion(t, e, c, lcNS+"/del-b"); err != nil || len(filesOf(t, bucketDir, "b")) != 4 {
				t.Errorf("second run: %v, files %v", err, filesOf(t, bucketDir, "b"))
			}
		})
	}
}

// Expiry is the server's own request: it records the server as requester,
// and is carried out whoever asked for the backup.
func TestExpiryIsTheServersRequest(t *testing.T) {
	for _, single := range []bool{false, true} {
		store, bucketDir := newTestBucket(t)
		b := completedBackup("old", "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z")
		authz.SetRequester(b, authz.Requester{Username: "alice"})
		putBackup(t, store, b)
		e := newLCEnv(t, utc("2026-01-01T02:00:00Z"), b)
		var fail error
		kube := fakeKube(map[string]bool{serverUser: true}, &fail)
		opt := WithDeletionAuthorizer(authz.NewDeletions(authz.NewTenancy(&rest.Config{}, kube.AuthorizationV1(), single), kube.AuthenticationV1()))
		v1 := e.informers.Ark().V1()
		gc := NewGCController(v1.Backups().Lister(), v1.DeleteBackupRequests().Lister(), e.client.ArkV1(), e.clock, time.Hour, false, opt)
		if _, err := gc.Sync(context.Background(), lcNS+"/old"); err != nil {
			t.Fatal(err)
		}
		e.refresh()
		reqs := e.requests()
		if len(reqs) != 1 {
			t.Fatalf("requests %v", keys(reqs))
		}
		var req *arkv1.DeleteBackupRequest
		for _, r := range reqs {
			req = r
		}
		r, ok := authz.RequesterOf(req)
		if single && ok || !single && (!ok || r.Username != serverUser) {
			t.Errorf("single-tenant %v: the expiry request records %+v %v", single, r, ok)
		}
		d := NewDeletionController(v1.DeleteBackupRequests().Lister(), v1.Backups().Lister(), v1.Restores().Lister(), e.client.ArkV1(), store, nil, time.Hour, opt)
		if _, err := runDeletion(t, e, d, lcNS+"/"+req.Name); err != nil {
			t.Fatal(err)
		}
		if got := e.requests()[req.Name]; got.Status.Phase != arkv1.DeleteBackupRequestPhaseProcessed || len(got.Status.Errors) != 0 || len(e.backups()) != 0 || len(filesOf(t, bucketDir, "old")) != 0 {
			t.Errorf("single-tenant %v: expired backup not deleted: request %+v, backups %v, files %v", single, got.Status, keys(e.backups()), filesOf(t, bucketDir, "old"))
		}
	}
}
