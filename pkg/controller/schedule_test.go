package controller

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/format"
	"github.com/heptio/ark/pkg/generated/clientset/versioned/fake"
	arkinformers "github.com/heptio/ark/pkg/generated/informers/externalversions"
)

// lcEnv is the test context of the schedule, gc and backup sync controllers:
// a fake clientset whose backups honour finalizers as the API server does, the
// listers of a fake informer factory kept in step with it by refresh, and a
// fake clock.
type lcEnv struct {
	t         *testing.T
	client    *fake.Clientset
	informers arkinformers.SharedInformerFactory
	clock     *clocktesting.FakeClock
}

const lcNS = "heptio-ark"

var backupsGVR = arkv1.SchemeGroupVersion.WithResource("backups")

func newLCEnv(t *testing.T, now time.Time, objs ...runtime.Object) *lcEnv {
	t.Helper()
	client := fake.NewClientset(objs...)
	e := &lcEnv{t: t, client: client, informers: arkinformers.NewSharedInformerFactory(client, 0), clock: clocktesting.NewFakeClock(now)}
	tracker := client.Tracker()
	// Delete of a backup with finalizers only sets its deletionTimestamp; an
	// update that removes the last finalizer of a deleted backup removes it.
	client.PrependReactor("delete", "backups", func(a k8stesting.Action) (bool, runtime.Object, error) {
		da := a.(k8stesting.DeleteAction)
		obj, err := tracker.Get(backupsGVR, da.GetNamespace(), da.GetName())
		if err != nil {
			return true, nil, err
		}
		b := obj.(*arkv1.Backup).DeepCopy()
		if len(b.Finalizers) == 0 {
			return false, nil, nil
		}
		if b.DeletionTimestamp == nil {
			now := metav1.NewTime(e.clock.Now())
			b.DeletionTimestamp = &now
			return true, nil, tracker.Update(backupsGVR, b, b.Namespace)
		}
		return true, nil, nil
	})
	client.PrependReactor("update", "backups", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ua := a.(k8stesting.UpdateAction)
		b := ua.GetObject().(*arkv1.Backup)
		if ua.GetSubresource() == "" && b.DeletionTimestamp != nil && len(b.Finalizers) == 0 {
			return true, b, tracker.Delete(backupsGVR, b.Namespace, b.Name)
		}
		return false, nil, nil
	})
	e.refresh()
	return e
}

// refresh makes the listers show what the clientset holds.
func (e *lcEnv) refresh() {
	e.t.Helper()
	ctx := context.Background()
	v1 := e.informers.Ark().V1()
	sync := func(indexer interface {
		Replace([]interface{}, string) error
	}, list []interface{}) {
		if err := indexer.Replace(list, ""); err != nil {
			e.t.Fatal(err)
		}
	}
	bl, err := e.client.ArkV1().Backups("").List(ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	var items []interface{}
	for i := range bl.Items {
		items = append(items, &bl.Items[i])
	}
	sync(v1.Backups().Informer().GetIndexer(), items)
	sl, err := e.client.ArkV1().Schedules("").List(ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	items = nil
	for i := range sl.Items {
		items = append(items, &sl.Items[i])
	}
	sync(v1.Schedules().Informer().GetIndexer(), items)
	rl, err := e.client.ArkV1().Restores("").List(ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	items = nil
	for i := range rl.Items {
		items = append(items, &rl.Items[i])
	}
	sync(v1.Restores().Informer().GetIndexer(), items)
	dl, err := e.client.ArkV1().DeleteBackupRequests("").List(ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	items = nil
	for i := range dl.Items {
		items = append(items, &dl.Items[i])
	}
	sync(v1.DeleteBackupRequests().Informer().GetIndexer(), items)
}

func (e *lcEnv) backups() map[string]*arkv1.Backup {
	e.t.Helper()
	l, err := e.client.ArkV1().Backups(lcNS).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	m := map[string]*arkv1.Backup{}
	for i := range l.Items {
		m[l.Items[i].Name] = &l.Items[i]
	}
	return m
}

func (e *lcEnv) schedule(name string) *arkv1.Schedule {
	e.t.Helper()
	s, err := e.client.ArkV1().Schedules(lcNS).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *lcEnv) countActions(verb, resource string) int {
	n := 0
	for _, a := range e.client.Actions() {
		if a.GetVerb() == verb && a.GetResource() == (schema.GroupVersionResource{Group: arkv1.GroupName, Version: "v1", Resource: resource}) {
			n++
		}
	}
	return n
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func mtime(s string) *metav1.Time {
	t := metav1.NewTime(utc(s))
	return &t
}

func newSchedule(name, cron, created string, last *metav1.Time) *arkv1.Schedule {
	return &arkv1.Schedule{
		ObjectMeta: metav1.ObjectMeta{Namespace: lcNS, Name: name, CreationTimestamp: metav1.NewTime(utc(created)), Labels: map[string]string{"team": "a"}},
		Spec: arkv1.ScheduleSpec{Schedule: cron, Template: arkv1.BackupSpec{
			IncludedNamespaces: []string{"app"},
			TTL:                metav1.Duration{Duration: 24 * time.Hour},
		}},
		Status: arkv1.ScheduleStatus{Phase: arkv1.SchedulePhaseEnabled, LastBackup: last},
	}
}

func TestScheduleSync(t *testing.T) {
	tests := []struct {
		name        string
		schedule    *arkv1.Schedule
		existing    []runtime.Object
		now         string
		restoreOnly bool

		wantBackups     []string // all backups afterwards
		wantCreates     int
		wantPhase       arkv1.SchedulePhase
		wantLastBackup  string
		wantRequeue     time.Duration
		wantErrContains string
	}{
		{
			name: "first backup at creation",
			schedule: func() *arkv1.Schedule {
				s := newSchedule("daily", "0 7 * * *", "2026-01-01T10:00:00Z", nil)
				s.Status.Phase = ""
				return s
			}(),
			now:            "2026-01-01T10:00:05Z",
			wantBackups:    []string{"daily-20260101100000"},
			wantCreates:    1,
			wantPhase:      arkv1.SchedulePhaseEnabled,
			wantLastBackup: "2026-01-01T10:00:00Z",
			wantRequeue:    20*time.Hour + 59*time.Minute + 55*time.Second + time.Second,
		},
		{
			name:           "tick due",
			schedule:       newSchedule("daily", "0 7 * * *", "2026-01-01T10:00:00Z", mtime("2026-01-01T10:00:00Z")),
			now:            "2026-01-02T07:00:00Z",
			wantBackups:    []string{"daily-20260102070000"},
			wantCreates:    1,
			wantPhase:      arkv1.SchedulePhaseEnabled,
			wantLastBackup: "2026-01-02T07:00:00Z",
			wantRequeue:    24*time.Hour + time.Second,
		},
		{
			name:           "no tick due: requeued for the next one, no polling",
			schedule:       newSchedule("daily", "0 7 * * *", "2026-01-01T10:00:00Z", mtime("2026-01-01T10:00:00Z")),
			now:            "2026-01-02T06:59:00Z",
			wantPhase:      arkv1.SchedulePhaseEnabled,
			wantLastBackup: "2026-01-01T10:00:00Z",
			wantRequeue:    time.Minute + time.Second,
		},
		{
			name:     "restart after the backup was created but before lastBackup was recorded: no duplicate",
			schedule: newSchedule("daily", "0 7 * * *", "2026-01-01T10:00:00Z", mtime("2026-01-01T10:00:00Z")),
			existing: []runtime.Object{&arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: lcNS, Name: "daily-20260102070000",
				Labels: map[string]string{format.ScheduleNameLabel: "daily"}}}},
			now:            "2026-01-02T07:00:30Z",
			wantBackups:    []string{"daily-20260102070000"},
			wantCreates:    1, // tried, AlreadyExists
			wantPhase:      arkv1.SchedulePhaseEnabled,
			wantLastBackup: "2026-01-02T07:00:00Z",
			wantRequeue:    24*time.Hour - 30*time.Second + time.Second,
		},
		{
			name:           "ticks missed while down: one backup, of the newest",
			schedule:       newSchedule("hourly", "0 * * * *", "2026-01-01T00:00:00Z", mtime("2026-01-01T07:00:00Z")),
			now:            "2026-01-05T08:30:00Z",
			wantBackups:    []string{"hourly-20260105080000"},
			wantCreates:    1,
			wantPhase:      arkv1.SchedulePhaseEnabled,
			wantLastBackup: "2026-01-05T08:00:00Z",
			wantRequeue:    30*time.Minute + time.Second,
		},
		{
			name: "created while no server ran: the newest tick stands for the first backup",
			schedule: func() *arkv1.Schedule {
				s := newSchedule("daily", "0 7 * * *", "2026-01-01T10:00:00Z", nil)
				s.Status.Phase = ""
				return s
			}(),
			now:            "2026-01-04T08:00:00Z",
			wantBackups:    []string{"daily-20260104070000"},
			wantCreates:    1,
			wantPhase:      arkv1.SchedulePhaseEnabled,
			wantLastBackup: "2026-01-04T07:00:00Z",
			wantRequeue:    23*time.Hour + time.Second,
		},
		{
			name:            "bad cron: FailedValidation with the parser's message",
			schedule:        newSchedule("bad", "61 * * * *", "2026-01-01T10:00:00Z", nil),
			now:             "2026-01-01T10:00:05Z",
			wantPhase:       arkv1.SchedulePhaseFailedValidation,
			wantErrContains: "end of range (61) above maximum (59)",
		},
		{
			name:            "garbage cron",
			schedule:        newSchedule("bad", "every day please", "2026-01-01T10:00:00Z", nil),
			now:             "2026-01-01T10:00:05Z",
			wantPhase:       arkv1.SchedulePhaseFailedValidation,
			wantErrContains: "invalid schedule",
		},
		{
			name:            "restore-only mode: FailedValidation saying so, no backup",
			schedule:        newSchedule("daily", "0 7 * * *", "2026-01-01T10:00:00Z", mtime("2026-01-01T10:00:00Z")),
			now:             "2026-01-03T07:00:00Z",
			restoreOnly:     true,
			wantPhase:       arkv1.SchedulePhaseFailedValidation,
			wantLastBackup:  "2026-01-01T10:00:00Z",
			wantErrContains: "restore-only mode",
		},
		{
			name:           "descriptor @every-like @hourly in UTC",
			schedule:       newSchedule("h", "@hourly", "2026-01-01T00:00:00Z", mtime("2026-01-01T00:00:00Z")),
			now:            "2026-01-01T01:00:00Z",
			wantBackups:    []string{"h-20260101010000"},
			wantCreates:    1,
			wantPhase:      arkv1.SchedulePhaseEnabled,
			wantLastBackup: "2026-01-01T01:00:00Z",
			wantRequeue:    time.Hour + time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := append([]runtime.Object{tt.schedule}, tt.existing...)
			e := newLCEnv(t, utc(tt.now), objs...)
			c := NewScheduleController(e.informers.Ark().V1().Schedules().Lister(), e.client.ArkV1(), e.clock, time.Minute, tt.restoreOnly)
			requeue, err := c.Sync(context.Background(), lcNS+"/"+tt.schedule.Name)
			if err != nil {
				t.Fatalf("Sync: %v", err)
			}
			if requeue != tt.wantRequeue {
				t.Errorf("requeueAfter = %v, want %v", requeue, tt.wantRequeue)
			}
			if n := e.countActions("create", "backups"); n != tt.wantCreates {
				t.Errorf("backup creates = %d, want %d", n, tt.wantCreates)
			}
			got := e.backups()
			if len(got) != len(tt.wantBackups) {
				t.Errorf("backups = %v, want %v", keys(got), tt.wantBackups)
			}
			for _, name := range tt.wantBackups {
				b, ok := got[name]
				if !ok {
					t.Errorf("backup %s missing; have %v", name, keys(got))
					continue
				}
				if b.Labels[format.ScheduleNameLabel] != tt.schedule.Name {
					t.Errorf("backup %s labels = %v", name, b.Labels)
				}
				if len(tt.existing) == 0 && (len(b.Spec.IncludedNamespaces) != 1 || b.Spec.TTL.Duration != 24*time.Hour || b.Labels["team"] != "a") {
					t.Errorf("backup %s spec/labels not from the template: %+v %v", name, b.Spec, b.Labels)
				}
			}
			s := e.schedule(tt.schedule.Name)
			if s.Status.Phase != tt.wantPhase {
				t.Errorf("phase = %q, want %q (errors %v)", s.Status.Phase, tt.wantPhase, s.Status.ValidationErrors)
			}
			if tt.wantErrContains != "" && !strings.Contains(strings.Join(s.Status.ValidationErrors, "\n"), tt.wantErrContains) {
				t.Errorf("validationErrors = %q, want one containing %q", s.Status.ValidationErrors, tt.wantErrContains)
			}
			if tt.wantErrContains == "" && len(s.Status.ValidationErrors) > 0 {
				t.Errorf("validationErrors = %q, want none", s.Status.ValidationErrors)
			}
			var last string
			if s.Status.LastBackup != nil {
				last = s.Status.LastBackup.UTC().Format(time.RFC3339)
			}
			if last != tt.wantLastBackup {
				t.Errorf("lastBackup = %q, want %q", last, tt.wantLastBackup)
			}
		})
	}
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// TestScheduleOverTime runs a schedule through creation, ticks, a sync
// repeated at the same instant, a restart (a new controller) and an outage.
func TestScheduleOverTime(t *testing.T) {
	s := newSchedule("every15", "*/15 * * * *", "2026-03-01T12:05:00Z", nil)
	s.Status = arkv1.ScheduleStatus{}
	e := newLCEnv(t, utc("2026-03-01T12:05:00Z"), s)
	newController := func() *ScheduleController {
		return NewScheduleController(e.informers.Ark().V1().Schedules().Lister(), e.client.ArkV1(), e.clock, time.Minute, false)
	}
	c := newController()
	key := lcNS + "/every15"
	step := func(c *ScheduleController) time.Duration {
		t.Helper()
		e.refresh()
		d, err := c.Sync(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	// Creation, then the runner's requeues: each lands just after a tick.
	d := step(c)
	for i := 0; i < 3; i++ {
		e.clock.Step(d)
		d = step(c)
	}
	step(c) // the same instant again: nothing new
	want := []string{"every15-20260301120500", "every15-20260301121500", "every15-20260301123000", "every15-20260301124500"}
	assertBackups(t, e, want)

	// A restart at the same instant: a new controller, nothing new.
	step(newController())
	assertBackups(t, e, want)

	// Down for three hours: one backup, of the newest missed tick.
	e.clock.Step(3 * time.Hour)
	step(newController())
	assertBackups(t, e, append(want, "every15-20260301154500"))
}

func assertBackups(t *testing.T, e *lcEnv, want []string) {
	t.Helper()
	got := e.backups()
	if len(got) != len(want) {
		t.Fatalf("backups = %v, want %v", keys(got), want)
	}
	for _, w := range want {
		if _, ok := got[w]; !ok {
			t.Fatalf("backup %s missing: have %v", w, keys(got))
		}
	}
}

// TestScheduleFixedAfterFailedValidation: a schedule whose cron is fixed is
// validated again, Enabled, and takes its first backup.
func TestScheduleFixedAfterFailedValidation(t *testing.T) {
	s := newSchedule("fixme", "0 25 * * *", "2026-01-01T10:00:00Z", nil)
	s.Status = arkv1.ScheduleStatus{}
	e := newLCEnv(t, utc("2026-01-01T10:00:01Z"), s)
	c := NewScheduleController(e.informers.Ark().V1().Schedules().Lister(), e.client.ArkV1(), e.clock, time.Minute, false)
	key := lcNS + "/fixme"
	for i := 0; i < 2; i++ { // the second sync writes nothing more
		if _, err := c.Sync(context.Background(), key); err != nil {
			t.Fatal(err)
		}
		e.refresh()
	}
	if got := e.schedule("fixme"); got.Status.Phase != arkv1.SchedulePhaseFailedValidation {
		t.Fatalf("phase = %q", got.Status.Phase)
	}
	if n := e.countActions("update", "schedules"); n != 1 {
		t.Errorf("status updates = %d, want 1", n)
	}
	fixed := e.schedule("fixme")
	fixed.Spec.Schedule = "0 5 * * *"
	fixed.Generation++
	if _, err := e.client.ArkV1().Schedules(lcNS).Update(context.Background(), fixed, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.refresh()
	if _, err := c.Sync(context.Background(), key); err != nil {
		t.Fatal(err)
	}
	got := e.schedule("fixme")
	if got.Status.Phase != arkv1.SchedulePhaseEnabled || len(got.Status.ValidationErrors) != 0 {
		t.Fatalf("after the fix: phase %q errors %v", got.Status.Phase, got.Status.ValidationErrors)
	}
	assertBackups(t, e, []string{"fixme-20260101100000"})
}

// TestSchedulePauseUnpause: a paused schedule creates no backup, says so in its phase and
// Events, records the ticks it skips, and after unpausing backs up at the next tick (not
// at once for the ticks it skipped).
func TestSchedulePauseUnpause(t *testing.T) {
	ctx := context.Background()
	s := newSchedule("every15", "*/15 * * * *", "2026-03-01T12:05:00Z", nil)
	s.Status = arkv1.ScheduleStatus{}
	s.Spec.Paused = true
	e := newLCEnv(t, utc("2026-03-01T12:05:00Z"), s)
	events := record.NewFakeRecorder(10)
	c := NewScheduleController(e.informers.Ark().V1().Schedules().Lister(), e.client.ArkV1(), e.clock, time.Minute, false, WithEventRecorder(events))
	key := lcNS + "/every15"
	sync := func() time.Duration {
		t.Helper()
		e.refresh()
		d, err := c.Sync(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		e.refresh()
		return d
	}
	setPaused := func(p bool) {
		t.Helper()
		cur := e.schedule("every15")
		cur.Spec.Paused = p
		if _, err := e.client.ArkV1().Schedules(lcNS).Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	wantEvent := func(reason string) {
		t.Helper()
		for {
			select {
			case ev := <-events.Events:
				if strings.HasPrefix(ev, "Normal "+reason+" ") {
					return
				}
			default:
				t.Errorf("no %s event", reason)
				return
			}
		}
	}
	check := func(phase arkv1.SchedulePhase, lastSkipped string, backups []string) {
		t.Helper()
		got := e.schedule("every15")
		if got.Status.Phase != phase {
			t.Errorf("phase = %q, want %q", got.Status.Phase, phase)
		}
		if skipped := got.Status.LastSkipped; (skipped == nil) != (lastSkipped == "") || (skipped != nil && !skipped.Time.Equal(utc(lastSkipped))) {
			t.Errorf("lastSkipped = %v, want %q", skipped, lastSkipped)
		}
		assertBackups(t, e, backups)
	}

	// Paused at creation: the creation's backup is skipped.
	d := sync()
	check(arkv1.SchedulePhasePaused, "2026-03-01T12:05:00Z", nil)
	wantEvent("Paused")
	if d != 10*time.Minute+time.Second {
		t.Errorf("requeue %v, want the next tick (12:15) +1s", d)
	}
	e.clock.Step(d)
	sync()
	check(arkv1.SchedulePhasePaused, "2026-03-01T12:15:00Z", nil)

	// Unpaused at 12:20: nothing at once, a backup at 12:30.
	e.clock.SetTime(utc("2026-03-01T12:20:00Z"))
	setPaused(false)
	d = sync()
	check(arkv1.SchedulePhaseEnabled, "2026-03-01T12:15:00Z", nil)
	wantEvent("Unpaused")
	e.clock.Step(d)
	sync()
	check(arkv1.SchedulePhaseEnabled, "2026-03-01T12:15:00Z", []string{"every15-20260301123000"})

	// Paused for three hours (no server sync in between, as after a restart): still no
	// backup; unpaused, none until the next tick.
	setPaused(true)
	e.clock.SetTime(utc("2026-03-01T15:40:00Z"))
	sync()
	check(arkv1.SchedulePhasePaused, "2026-03-01T15:30:00Z", []string{"every15-20260301123000"})
	wantEvent("Paused")
	setPaused(false)
	e.clock.SetTime(utc("2026-03-01T15:41:00Z"))
	sync()
	check(arkv1.SchedulePhaseEnabled, "2026-03-01T15:30:00Z", []string{"every15-20260301123000"})
	e.clock.SetTime(utc("2026-03-01T15:45:01Z"))
	sync()
	check(arkv1.SchedulePhaseEnabled, "2026-03-01T15:30:00Z", []string{"every15-20260301123000", "every15-20260301154500"})
}
