package backup

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	k8stesting "k8s.io/client-go/testing"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/format"
	"github.com/heptio/ark/pkg/generated/clientset/versioned/fake"
)

func TestDeleteOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		o       DeleteOptions
		wantErr string
	}{
		{name: "names", o: DeleteOptions{Names: []string{"a", "b-2"}}},
		{name: "all", o: DeleteOptions{All: true}},
		{name: "selector", o: DeleteOptions{Selector: "app=nginx"}},
		{name: "nothing", o: DeleteOptions{}, wantErr: "in one way"},
		{name: "names and all", o: DeleteOptions{Names: []string{"a"}, All: true}, wantErr: "in one way"},
		{name: "all and selector", o: DeleteOptions{All: true, Selector: "a=b"}, wantErr: "in one way"},
		{name: "bad name", o: DeleteOptions{Names: []string{"../etc"}}, wantErr: "invalid name"},
	} {
		err := tc.o.Validate()
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}

func TestRequestPrefix(t *testing.T) {
	long := strings.Repeat("a", 250) + ".b"
	for _, name := range []string{"b", "nightly-20261121070000", long} {
		p := requestPrefix(name)
		if errs := validation.IsDNS1123Subdomain(p + "x1y2z"); len(errs) > 0 {
			t.Errorf("%q: generated names %q invalid: %v", name, p+"x1y2z", errs)
		}
	}
}

func TestDeleteCreatesRequests(t *testing.T) {
	backup := func(name string, labels map[string]string) runtime.Object {
		return &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: labels}}
	}
	for _, tc := range []struct {
		name    string
		o       DeleteOptions
		stdin   string
		noTTY   bool
		want    []string // backups requested
		wantErr string
	}{
		{name: "confirmed by flag", o: DeleteOptions{Names: []string{"a"}, Confirm: true}, want: []string{"a"}},
		{name: "answered yes", o: DeleteOptions{Names: []string{"a", "b"}}, stdin: "y\n", want: []string{"a", "b"}},
		{name: "answered no", o: DeleteOptions{Names: []string{"a"}}, stdin: "n\n"},
		{name: "no answer", o: DeleteOptions{Names: []string{"a"}}},
		{name: "all", o: DeleteOptions{All: true, Confirm: true}, want: []string{"a", "b", "c"}},
		{name: "selector", o: DeleteOptions{Selector: "app=x", Confirm: true}, want: []string{"b"}},
		{name: "no terminal", o: DeleteOptions{Names: []string{"a"}}, stdin: "y\n", noTTY: true, wantErr: "stdin is not a terminal; add --confirm"},
		{name: "no terminal, confirmed", o: DeleteOptions{Names: []string{"a"}, Confirm: true}, noTTY: true, want: []string{"a"}},
		{name: "not found", o: DeleteOptions{Names: []string{"nope"}, Confirm: true}, wantErr: "backup nope not found"},
		{name: "one not found", o: DeleteOptions{Names: []string{"a", "nope"}, Confirm: true}, want: []string{"a"}, wantErr: "backup nope not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset(backup("a", nil), backup("b", map[string]string{"app": "x"}), backup("c", nil))
			n := 0
			client.PrependReactor("create", "deletebackuprequests", func(a k8stesting.Action) (bool, runtime.Object, error) {
				r := a.(k8stesting.CreateAction).GetObject().(*arkv1.DeleteBackupRequest)
				if r.Name == "" {
					n++
					r.Name = r.GenerateName + string(rune('a'+n))
				}
				return false, nil, nil
			})
			var out bytes.Buffer
			tc.o.in = strings.NewReader(tc.stdin)
			tc.o.terminal = func() bool { return !tc.noTTY }
			err := tc.o.run(context.Background(), &out, client, "ns")
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			l, _ := client.ArkV1().DeleteBackupRequests("ns").List(context.Background(), metav1.ListOptions{})
			var got []string
			for _, r := range l.Items {
				got = append(got, r.Spec.BackupName)
				if r.Labels[format.DeleteBackupRequestBackupLabel] != r.Spec.BackupName {
					t.Errorf("request %s labels %v", r.Name, r.Labels)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("requested %v, want %v\n%s", got, tc.want, out.String())
			}
			if len(tc.want) == 0 && tc.wantErr == "" && !strings.Contains(out.String(), "Cancelled") {
				t.Errorf("output:\n%s", out.String())
			}
		})
	}
}

// With --wait the command says, per backup, whether the server deleted it:
// a request processed without a target deleted nothing (refused).
func TestDeleteWaitReportsTheOutcome(t *testing.T) {
	objs := []runtime.Object{}
	for _, n := range []string{"mine", "theirs", "partly"} {
		objs = append(objs, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: n}})
	}
	client := fake.NewClientset(objs...)
	gets := 0
	client.PrependReactor("get", "deletebackuprequests", func(a k8stesting.Action) (bool, runtime.Object, error) {
		gets++
		obj, err := client.Tracker().Get(arkv1.SchemeGroupVersion.WithResource("deletebackuprequests"), "ns", a.(k8stesting.GetAction).GetName())
		if err != nil {
			return true, nil, err
		}
		r := obj.(*arkv1.DeleteBackupRequest).DeepCopy()
		if gets%2 == 1 {
			return true, r, nil // New the first time it is looked at
		}
		r.Status.Phase = arkv1.DeleteBackupRequestPhaseProcessed
		switch r.Spec.BackupName {
		case "mine":
			r.Annotations = map[string]string{format.TargetObjectAnnotation: "uid"}
		case "partly":
			r.Annotations = map[string]string{format.TargetObjectAnnotation: "uid"}
			r.Status.Errors = []string{"snapshot s1 of PV pv left alone"}
		case "theirs":
			r.Status.Errors = []string{`refused: alice may not delete backup "theirs": its requester is bob`}
		}
		return true, r, nil
	})
	n := 0
	client.PrependReactor("create", "deletebackuprequests", func(a k8stesting.Action) (bool, runtime.Object, error) {
		r := a.(k8stesting.CreateAction).GetObject().(*arkv1.DeleteBackupRequest)
		n++
		r.Name = r.GenerateName + string(rune('a'+n))
		return false, nil, nil
	})
	var out bytes.Buffer
	o := DeleteOptions{Names: []string{"mine", "theirs", "partly"}, Confirm: true, Wait: true, interval: time.Millisecond}
	err := o.run(context.Background(), &out, client, "ns")
	if err == nil || !strings.Contains(err.Error(), `backup "theirs" was not deleted: refused: alice may not delete backup "theirs"`) || strings.Contains(err.Error(), "mine") {
		t.Errorf("err = %v", err)
	}
	for _, want := range []string{`Backup "mine" deleted.`, `Backup "partly" deleted; left alone:` + "\n  - snapshot s1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), `"theirs" deleted`) {
		t.Errorf("output:\n%s", out.String())
	}
}
