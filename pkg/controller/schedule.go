package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/format"
	arkv1client "github.com/heptio/ark/pkg/generated/clientset/versioned/typed/ark/v1"
	arkinformers "github.com/heptio/ark/pkg/generated/informers/externalversions/ark/v1"
	arklisters "github.com/heptio/ark/pkg/generated/listers/ark/v1"
	"github.com/heptio/ark/pkg/label"
	"github.com/heptio/ark/pkg/validation"
)

// restoreOnlyScheduleError is the validation error of every schedule while
// the server is in restore-only mode.
const restoreOnlyScheduleError = "the server is in restore-only mode (Config restoreOnlyMode: true): schedules create no backups until it is turned off"

// maxTickSteps bounds the walk from the last tick to now (a schedule every
// minute left alone for a year is ~525,000 steps).
const maxTickSteps = 2_000_000

// ScheduleClient is what the schedule controller writes: schedules' status and
// the backups they create.
type ScheduleClient interface {
	arkv1client.SchedulesGetter
	arkv1client.BackupsGetter
}

// ScheduleController validates schedules and creates their backups, one per
// cron tick (UTC), the first when the schedule is created.
//
// A backup is named after its tick, so creating it is idempotent: after a
// restart or a failed status update, AlreadyExists means the tick was served.
// Of the ticks missed while no server ran, only the newest gets a backup.
// In restore-only mode every schedule is FailedValidation, saying so; it is
// validated again (and Enabled) once the server runs without that mode.
type ScheduleController struct {
	schedules       arklisters.ScheduleLister
	client          ScheduleClient
	clock           clock.PassiveClock
	restoreOnlyMode bool
	period          time.Duration
	options
}

// NewScheduleController returns the controller; Register it with a Runner.
// period is the Config's scheduleSyncPeriod.
func NewScheduleController(schedules arklisters.ScheduleLister, client ScheduleClient, clk clock.PassiveClock, period time.Duration, restoreOnlyMode bool, opts ...Option) *ScheduleController {
	return &ScheduleController{schedules: schedules, client: client, clock: clk, period: period, restoreOnlyMode: restoreOnlyMode, options: newOptions(opts)}
}

// Register makes r run the controller on every schedule change, and on every
// schedule each period: the safety resync (ticks themselves come from the
// requeueAfter of Sync).
func (c *ScheduleController) Register(r *Runner, inf arkinformers.Interface) error {
	if err := r.Watch(inf.Schedules().Informer(), nil, false); err != nil {
		return err
	}
	r.Every(c.period, func(context.Context) time.Duration {
		if all, err := c.schedules.List(labels.Everything()); err == nil {
			for _, s := range all {
				r.Enqueue(s)
			}
		}
		return 0
	})
	return nil
}

// Sync validates the schedule with this key and creates its due backup; it
// returns the time until the next tick.
func (c *ScheduleController) Sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	cached, err := c.schedules.Schedules(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if cached.DeletionTimestamp != nil {
		return 0, nil
	}
	s := cached.DeepCopy()
	logger := klog.FromContext(ctx).WithValues("schedule", klog.KObj(s))
	ctx = klog.NewContext(ctx, logger)

	// Validated on every sync: a schedule fixed after FailedValidation (or the
	// server leaving restore-only mode) is Enabled again without anything else.
	errs := c.validate(s)
	if len(errs) > 0 {
		if s.Status.Phase != arkv1.SchedulePhaseFailedValidation || !slices.Equal(s.Status.ValidationErrors, errs) {
			logger.Info("Schedule failed validation", "errors", errs)
			c.event(s, true, "FailedValidation", "%s", strings.Join(errs, "; "))
			s.Status.Phase = arkv1.SchedulePhaseFailedValidation
			s.Status.ValidationErrors = errs
			_, err := c.client.Schedules(ns).UpdateStatus(ctx, s, metav1.UpdateOptions{})
			return 0, ignoreConflict(err)
		}
		return 0, nil
	}
	sched, _ := validation.CronParser.Parse(s.Spec.Schedule) // validated above
	if s.Status.Phase != arkv1.SchedulePhaseEnabled || len(s.Status.ValidationErrors) > 0 {
		logger.Info("Schedule enabled", "schedule", s.Spec.Schedule)
		if err := c.updateStatus(ctx, s, func(st *arkv1.ScheduleStatus) {
			st.Phase = arkv1.SchedulePhaseEnabled
			st.ValidationErrors = nil
		}); err != nil {
			return 0, ignoreNotFound(err)
		}
	}

	now := c.clock.Now().UTC()
	if tick, due := dueTick(sched, s, now); due {
		if err := c.createBackup(ctx, s, tick); err != nil {
			return 0, err
		}
		t := metav1.NewTime(tick)
		if err := c.updateStatus(ctx, s, func(st *arkv1.ScheduleStatus) {
			if st.LastBackup == nil || st.LastBackup.Before(&t) {
				st.LastBackup = &t
			}
		}); err != nil {
			return 0, ignoreNotFound(err)
		}
	}
	next := sched.Next(now)
	if next.IsZero() {
		logger.Info("Schedule has no next tick within five years")
		return 0, nil
	}
	// Sub of two times with no monotonic reading; +1s so that the requeue
	// never lands a hair before the tick.
	return next.Sub(now) + time.Second, nil
}

func (c *ScheduleController) validate(s *arkv1.Schedule) []string {
	if c.restoreOnlyMode {
		return []string{restoreOnlyScheduleError}
	}
	return validation.Schedule(&s.Spec, nil)
}

// dueTick returns the tick whose backup is due at now, if any: the
// schedule's creation for its first backup, and otherwise the newest tick
// after status.lastBackup that is not after now.
func dueTick(sched cron.Schedule, s *arkv1.Schedule, now time.Time) (time.Time, bool) {
	if s.Status.LastBackup != nil {
		return newestTick(sched, s.Status.LastBackup.Time.UTC(), now)
	}
	// The first backup is taken at creation, named after the creation time:
	// a deterministic name, so a retry never creates a second one.
	created := s.CreationTimestamp.Time.UTC().Truncate(time.Second)
	if created.IsZero() || created.After(now) {
		created = now.Truncate(time.Second)
	}
	// A schedule created while no server ran: the newest tick since its
	// creation stands for both.
	if t, ok := newestTick(sched, created, now); ok {
		return t, true
	}
	return created, true
}

// newestTick returns the newest tick t with after < t <= now.
func newestTick(sched cron.Schedule, after, now time.Time) (time.Time, bool) {
	t := sched.Next(after)
	if t.IsZero() || t.After(now) {
		return time.Time{}, false
	}
	for i := 0; i < maxTickSteps; i++ {
		n := sched.Next(t)
		if n.IsZero() || n.After(now) {
			break
		}
		t = n
	}
	return t, true
}

// ScheduledBackupName is the name of the backup of schedule for tick.
func ScheduledBackupName(schedule string, tick time.Time) string {
	return schedule + "-" + tick.UTC().Format(format.NameTimestamp)
}

func (c *ScheduleController) createBackup(ctx context.Context, s *arkv1.Schedule, tick time.Time) error {
	logger := klog.FromContext(ctx)
	b := &arkv1.Backup{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: s.Namespace,
			Name:      ScheduledBackupName(s.Name, tick),
			Labels:    map[string]string{},
		},
		Spec: *s.Spec.Template.DeepCopy(),
	}
	for k, v := range s.Labels {
		b.Labels[k] = v
	}
	b.Labels[format.ScheduleNameLabel] = label.ValidValue(s.Name)
	_, err := c.client.Backups(s.Namespace).Create(ctx, b, metav1.CreateOptions{})
	switch {
	case apierrors.IsAlreadyExists(err):
		logger.V(1).Info("Backup of this tick already exists: tick already served", "backup", b.Name, "tick", tick)
		return nil
	case err != nil:
		return fmt.Errorf("creating backup %s of tick %s: %w", b.Name, tick.Format(time.RFC3339), err)
	}
	logger.Info("Created scheduled backup", "backup", b.Name, "tick", tick)
	c.event(s, false, "BackupCreated", "Created backup %s for the tick of %s", b.Name, tick.UTC().Format(time.RFC3339))
	return nil
}

// updateStatus applies mutate to the newest version of the schedule's status.
func (c *ScheduleController) updateStatus(ctx context.Context, s *arkv1.Schedule, mutate func(*arkv1.ScheduleStatus)) error {
	updated, err := updateStatus(ctx, c.client.Schedules(s.Namespace), s.Name, func(cur *arkv1.Schedule) error { mutate(&cur.Status); return nil })
	if err == nil {
		*s = *updated
	}
	return err
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
