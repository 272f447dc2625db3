package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/util/collections"
)

type hookPhase string

const (
	hookPre  hookPhase = "pre"
	hookPost hookPhase = "post"
)

// resourceHooks is a parsed BackupResourceHookSpec.
type resourceHooks struct {
	name       string
	namespaces *collections.IncludesExcludes
	selector   labels.Selector
	pre, post  []arkv1.BackupResourceHook
}

func parseHooks(h arkv1.BackupHooks) ([]resourceHooks, error) {
	var out []resourceHooks
	for i, spec := range h.Resources {
		where := fmt.Sprintf("hooks.resources[%d] (%s)", i, spec.Name)
		if errs := collections.ValidateIncludesExcludes(spec.IncludedNamespaces, spec.ExcludedNamespaces); len(errs) > 0 {
			return nil, fmt.Errorf("%s: namespaces: %w", where, errors.Join(errs...))
		}
		sel := labels.Everything()
		if spec.LabelSelector != nil {
			var err error
			if sel, err = metav1.LabelSelectorAsSelector(spec.LabelSelector); err != nil {
				return nil, fmt.Errorf("%s: labelSelector: %w", where, err)
			}
		}
		for phase, hooks := range map[string][]arkv1.BackupResourceHook{"pre": spec.Pre, "post": spec.Post} {
			for j, hook := range hooks {
				if hook.Exec == nil || len(hook.Exec.Command) == 0 {
					return nil, fmt.Errorf("%s: %s[%d]: exec.command is required", where, phase, j)
				}
				switch hook.Exec.OnError {
				case "", arkv1.HookErrorModeContinue, arkv1.HookErrorModeFail:
				default:
					return nil, fmt.Errorf("%s: %s[%d]: onError %q is neither Continue nor Fail", where, phase, j, hook.Exec.OnError)
				}
			}
		}
		out = append(out, resourceHooks{
			name:       spec.Name,
			namespaces: collections.NewIncludesExcludes(spec.IncludedNamespaces, spec.ExcludedNamespaces),
			selector:   sel,
			pre:        spec.Pre,
			post:       spec.Post,
		})
	}
	return out, nil
}

// runHooks runs, in order, the hooks of the phase of every hook spec that
// selects the pod. It returns an error only if the backup must fail.
func (r *run) runHooks(pod *unstructured.Unstructured, phase hookPhase) error {
	for _, rh := range r.hooks {
		if !rh.namespaces.ShouldInclude(pod.GetNamespace()) || !rh.selector.Matches(labels.Set(pod.GetLabels())) {
			continue
		}
		hooks := rh.pre
		if phase == hookPost {
			hooks = rh.post
		}
		for i := range hooks {
			if err := r.runHook(pod, rh.name, phase, i, hooks[i].Exec); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *run) runHook(pod *unstructured.Unstructured, specName string, phase hookPhase, index int, hook *arkv1.ExecHook) error {
	ns, name := pod.GetNamespace(), pod.GetName()
	what := fmt.Sprintf("%s hook %d of %q", phase, index, specName)
	container := hook.Container
	if container == "" {
		container = firstContainer(pod)
	}
	timeout := hook.EffectiveTimeout()
	onError := hook.EffectiveOnError()

	var stdout, stderr limitedBuffer
	var err error
	switch {
	case container == "":
		err = errors.New("the pod has no containers")
	case r.podExec == nil:
		err = errors.New("no pod command executor is configured")
	default:
		r.info(fmt.Sprintf("Running %s in container %s: %s", what, container, strings.Join(hook.Command, " ")), podsGR.String(), ns, name, "")
		err = r.exec(ns, name, container, hook.Command, timeout, &stdout, &stderr)
	}
	if ctxErr := r.ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	out := hookOutput(&stdout, &stderr)
	if err == nil {
		r.info(fmt.Sprintf("Ran %s", what), podsGR.String(), ns, name, out)
		return nil
	}
	if out != "" {
		err = fmt.Errorf("%w (%s)", err, out)
	}
	if onError == arkv1.HookErrorModeFail {
		r.fail(fmt.Sprintf("Hook failed (onError Fail): %s", what), podsGR.String(), ns, name, "", err)
		return fmt.Errorf("%w: %s in pod %s/%s: %v", errHookFailed, what, ns, name, err)
	}
	r.fail(fmt.Sprintf("Hook failed: %s", what), podsGR.String(), ns, name, "", err)
	return nil
}

// exec runs the command with the timeout enforced even if the executor does
// not honour its context.
func (r *run) exec(ns, pod, container string, command []string, timeout time.Duration, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithTimeout(r.ctx, timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- r.podExec.ExecPodCommand(ctx, ns, pod, container, command, stdout, stderr)
	}()
	select {
	case err := <-done:
		if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && r.ctx.Err() == nil {
			return fmt.Errorf("timed out after %s: %w", timeout, err)
		}
		return err
	case <-ctx.Done():
		if r.ctx.Err() != nil {
			return r.ctx.Err()
		}
		return fmt.Errorf("timed out after %s", timeout)
	}
}

func firstContainer(pod *unstructured.Unstructured) string {
	containers, _, _ := unstructured.NestedSlice(pod.Object, "spec", "containers")
	if len(containers) == 0 {
		return ""
	}
	if c, ok := containers[0].(map[string]interface{}); ok {
		name, _ := c["name"].(string)
		return name
	}
	return ""
}

func hookOutput(stdout, stderr *limitedBuffer) string {
	var parts []string
	if s := strings.TrimSpace(stdout.String()); s != "" {
		parts = append(parts, "stdout: "+s)
	}
	if s := strings.TrimSpace(stderr.String()); s != "" {
		parts = append(parts, "stderr: "+s)
	}
	return strings.Join(parts, "; ")
}

// limitedBuffer keeps the first hookOutputLimit bytes written to it; it is
// safe for concurrent use (an abandoned executor may still write).
type limitedBuffer struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	truncated bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	room := hookOutputLimit - b.buf.Len()
	if room < len(p) {
		b.truncated = true
		if room > 0 {
			b.buf.Write(p[:room])
		}
		return len(p), nil
	}
	b.buf.Write(p)
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.truncated {
		return b.buf.String() + "..."
	}
	return b.buf.String()
}
