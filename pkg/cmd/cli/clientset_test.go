package cli

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	arkv1apply "github.com/heptio/ark/pkg/generated/applyconfiguration/ark/v1"
	"github.com/heptio/ark/pkg/generated/clientset/versioned/fake"
	arkinformers "github.com/heptio/ark/pkg/generated/informers/externalversions"
)

// The generated clientset, lister and informer work against the types: a Backup
// round-trips through the fake clientset and shows up in a lister.
func TestGeneratedClientsetRoundTrip(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	yes := true
	in := &arkv1.Backup{
		ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "nginx-backup"},
		Spec: arkv1.BackupSpec{
			IncludedNamespaces: []string{"nginx-example"},
			LabelSelector:      &metav1.LabelSelector{MatchLabels: map[string]string{"app": "nginx"}},
			SnapshotVolumes:    &yes,
			TTL:                metav1.Duration{Duration: 72 * time.Hour},
		},
		Status: arkv1.BackupStatus{Phase: arkv1.BackupPhaseNew, VolumeBackups: map[string]*arkv1.VolumeBackupInfo{"pv-1": {SnapshotID: "snap-1"}}},
	}
	client := fake.NewClientset()
	if _, err := client.ArkV1().Backups("heptio-ark").Create(ctx, in, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := client.ArkV1().Backups("heptio-ark").Get(ctx, "nginx-backup", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Like an API server, the field-managed tracker of NewClientset fills in the
	// kind and records who set which fields; what the caller wrote comes back as it was.
	if len(got.ManagedFields) == 0 {
		t.Error("the clientset did not record managed fields")
	}
	if diff := cmp.Diff(in, got, cmpopts.IgnoreFields(arkv1.Backup{}, "TypeMeta"), cmpopts.IgnoreFields(metav1.ObjectMeta{}, "ManagedFields")); diff != "" {
		t.Errorf("round trip changed the backup (-in +got):\n%s", diff)
	}
	if got == in || got.Status.VolumeBackups["pv-1"] == in.Status.VolumeBackups["pv-1"] {
		t.Error("the clientset returned the caller's object instead of a deep copy")
	}

	informers := arkinformers.NewSharedInformerFactory(client, 0)
	lister := informers.Ark().V1().Backups().Lister()
	informers.Start(ctx.Done())
	informers.WaitForCacheSync(ctx.Done())
	listed, err := lister.Backups("heptio-ark").Get("nginx-backup")
	if err != nil {
		t.Fatal(err)
	}
	if listed.Spec.TTL.Duration != 72*time.Hour {
		t.Errorf("lister ttl = %s", listed.Spec.TTL.Duration)
	}

	w, err := client.ArkV1().Restores("heptio-ark").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	r := &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "r"}, Spec: arkv1.RestoreSpec{BackupName: "nginx-backup", NamespaceMapping: map[string]string{"a": "b"}}}
	if _, err := client.ArkV1().Restores("heptio-ark").Create(ctx, r, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ev := <-w.ResultChan()
	if ev.Type != watch.Added || ev.Object.(*arkv1.Restore).Spec.NamespaceMapping["a"] != "b" {
		t.Errorf("watch event = %v %+v", ev.Type, ev.Object)
	}
}

// The generated apply configurations carry the schema of the types: a server-side
// apply through the fake clientset merges into the stored object and records the manager.
func TestGeneratedApplyConfiguration(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset(&arkv1.Schedule{
		ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "daily"},
		Spec:       arkv1.ScheduleSpec{Schedule: "0 1 * * *"},
	})
	got, err := client.ArkV1().Schedules("heptio-ark").Apply(ctx,
		arkv1apply.Schedule("daily", "heptio-ark").WithLabels(map[string]string{"team": "a"}),
		metav1.ApplyOptions{FieldManager: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.Schedule != "0 1 * * *" || got.Labels["team"] != "a" {
		t.Errorf("applied schedule = %+v", got)
	}
	managers := map[string]bool{}
	for _, m := range got.ManagedFields {
		managers[m.Manager] = true
	}
	if !managers["test"] {
		t.Errorf("managed fields %+v have no entry of the applying manager", got.ManagedFields)
	}
}
