package authz

import (
	"context"
	"errors"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
)

func TestDeletionsAuthorize(t *testing.T) {
	const server = "system:serviceaccount:ark:ark"
	rules := map[string]bool{
		"admin delete backups.ark.heptio.com ark":     true,
		server + " delete backups.ark.heptio.com ark": true,
		"carol delete backups.ark.heptio.com other":   true, // another namespace than the server's
	}
	alice := Requester{Username: "alice", Groups: []string{"team-a", "system:authenticated"}}
	backupOf := func(r *Requester) *arkv1.Backup {
		b := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: "ark", Name: "b1"}}
		if r != nil {
			SetRequester(b, *r)
		}
		return b
	}
	// A schedule's backup records the schedule's requester.
	schedule := &arkv1.Schedule{}
	SetRequester(schedule, alice)
	scheduled := backupOf(nil)
	CopyRequester(scheduled, schedule)

	tests := []struct {
		name     string
		who      *Requester
		backup   *arkv1.Backup
		single   bool
		fail     bool
		wantErr  []string // all in the error; none: allowed
		wantNoRQ bool     // the error matches ErrNoRequester
		asked    int
	}{
		{name: "its requester", who: &alice, backup: backupOf(&alice)},
		{name: "its requester in other groups", who: &Requester{Username: "alice"}, backup: backupOf(&alice)},
		{name: "the requester of the schedule that made it", who: &alice, backup: scheduled},
		{name: "another user", who: &Requester{Username: "bob"}, backup: backupOf(&alice), asked: 1,
			wantErr: []string{`bob may not delete backup "b1"`, "its requester is alice", "delete backups.ark.heptio.com b1 in namespace ark", "left untouched"}},
		{name: "may delete backups elsewhere only", who: &Requester{Username: "carol"}, backup: backupOf(&alice), asked: 1,
			wantErr: []string{`carol may not delete backup "b1"`}},
		{name: "who may delete backups", who: &Requester{Username: "admin"}, backup: backupOf(&alice), asked: 1},
		{name: "the server's own expiry", who: &Requester{Username: server}, backup: backupOf(&alice), asked: 1},
		{name: "a backup without requester, another user", who: &alice, backup: backupOf(nil), asked: 1,
			wantErr: []string{"records no requester"}},
		{name: "a backup without requester, who may delete backups", who: &Requester{Username: "admin"}, backup: backupOf(nil), asked: 1},
		{name: "no Backup object, another user", who: &alice, asked: 1, wantErr: []string{"not in the cluster"}},
		{name: "no Backup object, who may delete backups", who: &Requester{Username: "admin"}, asked: 1},
		{name: "a request without requester", backup: backupOf(&alice), wantNoRQ: true,
			wantErr: []string{`not deleting backup "b1"`, "ark CLI"}},
		{name: "the review cannot be made: not allowed", who: &Requester{Username: "bob"}, backup: backupOf(&alice), fail: true,
			wantErr: []string{"connection refused"}},
		{name: "single-tenant: anyone", who: &Requester{Username: "bob"}, backup: backupOf(&alice), single: true},
		{name: "single-tenant: no requester", backup: backupOf(&alice), single: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAuthorizer{allowed: rules}
			if tt.fail {
				f.fail = errors.New("connection refused")
			}
			d := NewDeletions(NewTenancy(&rest.Config{}, f.client().AuthorizationV1(), tt.single), nil)
			req := &arkv1.DeleteBackupRequest{ObjectMeta: metav1.ObjectMeta{Namespace: "ark", Name: "b1-x"}, Spec: arkv1.DeleteBackupRequestSpec{BackupName: "b1"}}
			if tt.who != nil {
				SetRequester(req, *tt.who)
			}
			err := d.Authorize(context.Background(), req, tt.backup)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("err = %v, want allowed", err)
				}
			} else {
				if err == nil {
					t.Fatalf("allowed, want %q", tt.wantErr)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("err = %v, want %q in it", err, w)
					}
				}
				if errors.Is(err, ErrRefused) == tt.fail {
					t.Errorf("errors.Is(err, ErrRefused) = %v; a review that failed is not a refusal, else it is", !tt.fail)
				}
				if errors.Is(err, ErrNoRequester) != tt.wantNoRQ {
					t.Errorf("errors.Is(err, ErrNoRequester) = %v", !tt.wantNoRQ)
				}
			}
			if !tt.fail && len(f.asked) != tt.asked {
				t.Errorf("asked %q, want %d review(s)", f.asked, tt.asked)
			}
		})
	}
}

// The server records itself on its expiry requests, asking who it is once;
// nothing single-tenant.
func TestDeletionsRecordExpiry(t *testing.T) {
	for _, single := range []bool{false, true} {
		c := fake.NewClientset()
		reviews, failFirst := 0, true
		c.PrependReactor("create", "selfsubjectreviews", func(k8stesting.Action) (bool, runtime.Object, error) {
			reviews++
			if failFirst {
				failFirst = false
				return true, nil, errors.New("connection refused")
			}
			return true, &authenticationv1.SelfSubjectReview{Status: authenticationv1.SelfSubjectReviewStatus{
				UserInfo: authenticationv1.UserInfo{Username: "system:serviceaccount:ark:ark", Groups: []string{"system:serviceaccounts", "system:authenticated"}}}}, nil
		})
		d := NewDeletions(NewTenancy(&rest.Config{}, c.AuthorizationV1(), single), c.AuthenticationV1())
		ctx := context.Background()
		req := &arkv1.DeleteBackupRequest{}
		err := d.RecordExpiry(ctx, req)
		if single {
			if err != nil || reviews != 0 || len(req.Annotations) != 0 {
				t.Errorf("single-tenant: err %v, %d reviews, annotations %v", err, reviews, req.Annotations)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Fatalf("err = %v", err)
		}
		if _, ok := RequesterOf(req); ok {
			t.Error("a requester was recorded though the server could not tell who it is")
		}
		for range 2 {
			req := &arkv1.DeleteBackupRequest{}
			if err := d.RecordExpiry(ctx, req); err != nil {
				t.Fatal(err)
			}
			if r, ok := RequesterOf(req); !ok || r.Username != "system:serviceaccount:ark:ark" || strings.Join(r.Groups, ",") != "system:serviceaccounts,system:authenticated" {
				t.Errorf("recorded %+v %v", r, ok)
			}
		}
		if reviews != 2 {
			t.Errorf("%d SelfSubjectReviews, want 2 (one failed, then one remembered)", reviews)
		}
	}
}
