package controller

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// statusClient is the part of a generated typed client (Backups(ns),
// Restores(ns), Schedules(ns)) that updateStatus needs.
type statusClient[T any] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	UpdateStatus(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
}

// updateStatus applies mutate to the newest version of the object and updates
// its status; on a conflict it reads the object again and retries. A mutate
// error stops it and is returned as is.
func updateStatus[T any](ctx context.Context, client statusClient[T], name string, mutate func(T) error) (T, error) {
	var updated T
	done := false
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := client.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if err := mutate(cur); err != nil {
			return err
		}
		updated, err = client.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		done = err == nil
		return err
	})
	// retry.OnError turns an error wrapping context.Canceled into its last
	// retriable error, nil when there was none: never report that as a success.
	if err == nil && !done {
		err = fmt.Errorf("updating the status of %s: %w", name, context.Cause(ctx))
		if ctx.Err() == nil {
			err = fmt.Errorf("updating the status of %s: interrupted", name)
		}
	}
	return updated, err
}
