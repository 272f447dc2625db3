// Package csi snapshots CSI volumes through the Kubernetes VolumeSnapshot API
// (snapshot.storage.k8s.io/v1), for any CSI driver that supports snapshots, with a dynamic
// client. It is the persistentVolumeProvider "csi".
//
// Backup: for the claim bound to the PV (the PV's claimRef), a VolumeSnapshot named
// ark-<backup>-<claim> is created in the claim's namespace (with volumeSnapshotClass when
// configured, else the driver's default class) and waited for until status.readyToUse. Its
// VolumeSnapshotContent is then set to deletionPolicy Retain, so that deleting the namespace
// (or the whole cluster's objects) does not delete the snapshot: the backup owns it until gc.
// The snapshot ID is "<namespace>/<volumesnapshot>/<volumesnapshotcontent>/<snapshotHandle>"
// and the type the CSI driver's name.
//
// Restore: the PV is not restored (RestoreVolume returns nil); RestoreClaim rewrites the
// claim to be provisioned from the snapshot: spec.dataSource (and dataSourceRef) name a
// VolumeSnapshot in the claim's namespace, spec.volumeName is dropped. When the claim goes to
// its original namespace and the VolumeSnapshot is still there, that one is used; otherwise
// (a mapped namespace, a lost cluster) a pre-provisioned VolumeSnapshotContent (Retain) for
// the snapshot handle and a VolumeSnapshot bound to it are created in the claim's namespace.
//
// GC: DeleteSnapshot sets the content's deletionPolicy back to Delete and deletes the
// VolumeSnapshot and its content, so that the driver deletes the snapshot.
//
// Config keys (Config.persistentVolumeProvider.config): volumeSnapshotClass (optional),
// readyTimeout (how long a snapshot may take to be readyToUse, default 10m).
package csi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/klog/v2"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/cloudprovider"
	"github.com/heptio/ark/pkg/format"
)

const provider = "csi"

// Group is the VolumeSnapshot API group.
const Group = "snapshot.storage.k8s.io"

// Resources of the VolumeSnapshot API, v1.
var (
	VolumeSnapshots        = schema.GroupVersionResource{Group: Group, Version: "v1", Resource: "volumesnapshots"}
	VolumeSnapshotContents = schema.GroupVersionResource{Group: Group, Version: "v1", Resource: "volumesnapshotcontents"}
	pvcs                   = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}
)

// ConfigKeys are the Config.persistentVolumeProvider.config keys of this provider.
var ConfigKeys = []string{"volumeSnapshotClass", "readyTimeout"}

// Defaults.
const (
	DefaultReadyTimeout = 10 * time.Minute
	defaultPollInterval = time.Second
)

// Options configures a Provider.
type Options struct {
	// SnapshotClass is the VolumeSnapshotClass of new snapshots ("": the driver's default).
	SnapshotClass string
	// ReadyTimeout bounds the wait for a snapshot to be readyToUse (default 10m).
	ReadyTimeout time.Duration
	// PollInterval between looks at a VolumeSnapshot (default 1s).
	PollInterval time.Duration
}

// Provider is the CSI persistentVolumeProvider. It implements backup.VolumeSnapshotter,
// restore.VolumeRestorer (with RestoreClaim) and the gc controller's SnapshotDeleter.
type Provider struct {
	client dynamic.Interface
	opts   Options
}

// NewFromConfig builds a Provider from Config.persistentVolumeProvider.config.
func NewFromConfig(client dynamic.Interface, config map[string]string) (*Provider, error) {
	if err := cloudprovider.CheckBlockStoreConfigKeys(provider, config, ConfigKeys...); err != nil {
		return nil, err
	}
	o := Options{SnapshotClass: config["volumeSnapshotClass"]}
	if s := config["readyTimeout"]; s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return nil, cloudprovider.ConfigError(provider, "persistentVolumeProvider: config key \"readyTimeout\": %q is not a positive duration", s)
		}
		o.ReadyTimeout = d
	}
	return New(client, o), nil
}

// New builds a Provider.
func New(client dynamic.Interface, o Options) *Provider {
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = DefaultReadyTimeout
	}
	if o.PollInterval <= 0 {
		o.PollInterval = defaultPollInterval
	}
	return &Provider{client: client, opts: o}
}

// SnapshotRef is what a snapshot ID holds.
type SnapshotRef struct {
	Namespace, Name string // the VolumeSnapshot
	Content         string // its VolumeSnapshotContent
	Handle          string // the driver's snapshot handle
}

func (r SnapshotRef) String() string {
	return r.Namespace + "/" + r.Name + "/" + r.Content + "/" + r.Handle
}

// ParseSnapshotID parses "<namespace>/<name>/<content>/<handle>" (the handle may hold "/").
func ParseSnapshotID(id string) (SnapshotRef, error) {
	p := strings.SplitN(id, "/", 4)
	if len(p) != 4 || p[0] == "" || p[1] == "" || p[2] == "" || p[3] == "" {
		return SnapshotRef{}, fmt.Errorf("%s: %q is not a CSI snapshot ID (<namespace>/<volumesnapshot>/<content>/<handle>)", provider, id)
	}
	return SnapshotRef{Namespace: p[0], Name: p[1], Content: p[2], Handle: p[3]}, nil
}

// objectName makes a DNS subdomain name of at most 253 characters from parts, with a hash
// of them when they must be cut.
func objectName(parts ...string) string {
	name := strings.ToLower(strings.Join(parts, "-"))
	if len(name) <= 253 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return strings.TrimRight(name[:240], "-.") + "-" + hex.EncodeToString(sum[:])[:10]
}

// labelValue makes a valid label value of v (at most 63 characters of [-._a-zA-Z0-9],
// alphanumeric at both ends), with a hash when it must be changed.
func labelValue(v string) string {
	if len(validation.IsValidLabelValue(v)) == 0 {
		return v
	}
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '-'
	}, v)
	sum := sha256.Sum256([]byte(v))
	if len(clean) > 52 {
		clean = clean[:52]
	}
	return strings.Trim(clean, "-_.") + "-" + hex.EncodeToString(sum[:])[:10]
}

func (p *Provider) wrap(op, id string, err error) error {
	if err == nil {
		return nil
	}
	return &cloudprovider.BlockStoreError{Provider: provider, Op: op, ID: id, Err: err}
}

// SnapshotVolume snapshots the claim bound to a CSI PV. A PV that is not a CSI volume gives
// nil, nil.
func (p *Provider) SnapshotVolume(ctx context.Context, pv *unstructured.Unstructured, tags map[string]string) (*arkv1.VolumeBackupInfo, error) {
	driver, _, _ := unstructured.NestedString(pv.Object, "spec", "csi", "driver")
	if driver == "" {
		return nil, nil
	}
	ns, _, _ := unstructured.NestedString(pv.Object, "spec", "claimRef", "namespace")
	claim, _, _ := unstructured.NestedString(pv.Object, "spec", "claimRef", "name")
	if ns == "" || claim == "" {
		return nil, p.wrap("create snapshot", pv.GetName(), errors.New("the PV is bound to no claim: CSI snapshots are taken of claims"))
	}
	pvc, err := p.client.Resource(pvcs).Namespace(ns).Get(ctx, claim, metav1.GetOptions{})
	if err != nil {
		return nil, p.wrap("create snapshot", pv.GetName(), fmt.Errorf("reading its claim %s/%s: %w", ns, claim, err))
	}
	if vol, _, _ := unstructured.NestedString(pvc.Object, "spec", "volumeName"); vol != pv.GetName() {
		return nil, p.wrap("create snapshot", pv.GetName(), fmt.Errorf("its claim %s/%s is bound to volume %q, not to it", ns, claim, vol))
	}

	backupName := tags[format.BackupTag]
	name := objectName("ark", backupName, claim)
	if backupName == "" {
		name = objectName("ark", claim, time.Now().UTC().Format(format.NameTimestamp))
	}
	labels := map[string]string{}
	annotations := map[string]string{}
	for k, v := range tags {
		if len(validation.IsQualifiedName(k)) == 0 {
			labels[k] = labelValue(v)
		}
		annotations[k] = v
	}
	spec := map[string]any{"source": map[string]any{"persistentVolumeClaimName": claim}}
	if p.opts.SnapshotClass != "" {
		spec["volumeSnapshotClassName"] = p.opts.SnapshotClass
	}
	vs := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": Group + "/v1", "kind": "VolumeSnapshot",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec":     spec,
	}}
	vs.SetLabels(labels)
	vs.SetAnnotations(annotations)
	client := p.client.Resource(VolumeSnapshots).Namespace(ns)
	if _, err := client.Create(ctx, vs, metav1.CreateOptions{}); err != nil {
		if !apierrors.IsAlreadyExists(err) {
			return nil, p.wrap("create snapshot", pv.GetName(), fmt.Errorf("creating VolumeSnapshot %s/%s: %w", ns, name, err))
		}
		// A retry of the same backup: take the existing snapshot if it is of this claim.
		existing, gerr := client.Get(ctx, name, metav1.GetOptions{})
		if gerr != nil {
			return nil, p.wrap("create snapshot", pv.GetName(), gerr)
		}
		if src, _, _ := unstructured.NestedString(existing.Object, "spec", "source", "persistentVolumeClaimName"); src != claim {
			return nil, p.wrap("create snapshot", pv.GetName(), fmt.Errorf("VolumeSnapshot %s/%s exists and is of claim %q", ns, name, src))
		}
	}
	logger := klog.FromContext(ctx).WithValues("volumeSnapshot", klog.KRef(ns, name), "pv", pv.GetName())
	logger.V(2).Info("VolumeSnapshot created; waiting until it is ready to use")

	var ready *unstructured.Unstructured
	var lastErr string
	err = wait.PollUntilContextTimeout(ctx, p.opts.PollInterval, p.opts.ReadyTimeout, true, func(ctx context.Context) (bool, error) {
		got, err := client.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				return false, fmt.Errorf("VolumeSnapshot %s/%s was deleted", ns, name)
			}
			lastErr = err.Error()
			return false, nil
		}
		if msg, _, _ := unstructured.NestedString(got.Object, "status", "error", "message"); msg != "" {
			lastErr = msg
		}
		if ok, _, _ := unstructured.NestedBool(got.Object, "status", "readyToUse"); ok {
			ready = got
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		if lastErr != "" {
			err = fmt.Errorf("%w (last error: %s)", err, lastErr)
		}
		// Do not leave a snapshot behind that no backup records.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if derr := client.Delete(cctx, name, metav1.DeleteOptions{}); derr != nil && !apierrors.IsNotFound(derr) {
			logger.Error(derr, "Deleting the VolumeSnapshot that did not become ready")
		}
		return nil, p.wrap("create snapshot", pv.GetName(), fmt.Errorf("VolumeSnapshot %s/%s not ready to use within %s: %w", ns, name, p.opts.ReadyTimeout, err))
	}

	content, _, _ := unstructured.NestedString(ready.Object, "status", "boundVolumeSnapshotContentName")
	if content == "" {
		return nil, p.wrap("create snapshot", pv.GetName(), fmt.Errorf("VolumeSnapshot %s/%s is ready but names no VolumeSnapshotContent", ns, name))
	}
	vsc, err := p.client.Resource(VolumeSnapshotContents).Get(ctx, content, metav1.GetOptions{})
	if err != nil {
		return nil, p.wrap("create snapshot", pv.GetName(), fmt.Errorf("reading VolumeSnapshotContent %s: %w", content, err))
	}
	handle, _, _ := unstructured.NestedString(vsc.Object, "status", "snapshotHandle")
	if handle == "" {
		return nil, p.wrap("create snapshot", pv.GetName(), fmt.Errorf("VolumeSnapshotContent %s has no status.snapshotHandle", content))
	}
	if err := p.setDeletionPolicy(ctx, content, "Retain"); err != nil {
		return nil, p.wrap("create snapshot", pv.GetName(), err)
	}
	ref := SnapshotRef{Namespace: ns, Name: name, Content: content, Handle: handle}
	logger.V(2).Info("VolumeSnapshot ready", "snapshotID", ref.String())
	return &arkv1.VolumeBackupInfo{SnapshotID: ref.String(), Type: driver, AvailabilityZone: cloudprovider.PVZone(pv)}, nil
}

func (p *Provider) setDeletionPolicy(ctx context.Context, content, policy string) error {
	patch := []byte(`{"spec":{"deletionPolicy":"` + policy + `"}}`)
	_, err := p.client.Resource(VolumeSnapshotContents).Patch(ctx, content, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("setting deletionPolicy %s on VolumeSnapshotContent %s: %w", policy, content, err)
	}
	return nil
}

// RestoreVolume restores no PV: a CSI volume is provisioned anew from its snapshot through
// the claim's dataSource (see RestoreClaim). It returns nil, nil for a CSI PV.
func (p *Provider) RestoreVolume(_ context.Context, pv *unstructured.Unstructured, info *arkv1.VolumeBackupInfo) (*unstructured.Unstructured, error) {
	if _, err := ParseSnapshotID(info.SnapshotID); err != nil {
		return nil, err
	}
	if d, _, _ := unstructured.NestedString(pv.Object, "spec", "csi", "driver"); d == "" {
		return nil, fmt.Errorf("%s: PV %s is not a CSI volume", provider, pv.GetName())
	}
	return nil, nil
}

// RestoreClaim returns the claim pvc (already in its target namespace) rewritten to be
// provisioned from the snapshot of its volume pvName: dataSource and dataSourceRef name a
// VolumeSnapshot in the claim's namespace, made there if needed; volumeName is dropped.
func (p *Provider) RestoreClaim(ctx context.Context, pvc *unstructured.Unstructured, pvName string, info *arkv1.VolumeBackupInfo) (*unstructured.Unstructured, error) {
	ref, err := ParseSnapshotID(info.SnapshotID)
	if err != nil {
		return nil, err
	}
	target := pvc.GetNamespace()
	vsName, err := p.snapshotIn(ctx, target, ref, info.Type)
	if err != nil {
		return nil, p.wrap("restore claim", info.SnapshotID, fmt.Errorf("claim %s/%s: %w", target, pvc.GetName(), err))
	}
	out := pvc.DeepCopy()
	unstructured.RemoveNestedField(out.Object, "spec", "volumeName")
	source := map[string]any{"apiGroup": Group, "kind": "VolumeSnapshot", "name": vsName}
	if err := unstructured.SetNestedMap(out.Object, source, "spec", "dataSource"); err != nil {
		return nil, err
	}
	if err := unstructured.SetNestedMap(out.Object, map[string]any{"apiGroup": Group, "kind": "VolumeSnapshot", "name": vsName}, "spec", "dataSourceRef"); err != nil {
		return nil, err
	}
	klog.FromContext(ctx).V(2).Info("Claim provisioned from VolumeSnapshot", "pvc", klog.KObj(out), "volumeSnapshot", vsName, "pv", pvName)
	return out, nil
}

// snapshotIn returns the name of a VolumeSnapshot of ref in namespace ns: the original one
// if it is there, else one bound to a new pre-provisioned VolumeSnapshotContent.
func (p *Provider) snapshotIn(ctx context.Context, ns string, ref SnapshotRef, driver string) (string, error) {
	vsClient := p.client.Resource(VolumeSnapshots).Namespace(ns)
	if ns == ref.Namespace {
		got, err := vsClient.Get(ctx, ref.Name, metav1.GetOptions{})
		switch {
		case err == nil:
			if c, _, _ := unstructured.NestedString(got.Object, "status", "boundVolumeSnapshotContentName"); c == ref.Content {
				return ref.Name, nil
			}
			if c, _, _ := unstructured.NestedString(got.Object, "spec", "source", "volumeSnapshotContentName"); c != "" {
				if h, _ := p.contentHandle(ctx, c); h == ref.Handle {
					return ref.Name, nil // made by an earlier restore
				}
			}
			return "", fmt.Errorf("VolumeSnapshot %s/%s exists but is not of snapshot %s", ns, ref.Name, ref.Handle)
		case !apierrors.IsNotFound(err):
			return "", err
		}
	}
	if driver == "" {
		vsc, err := p.client.Resource(VolumeSnapshotContents).Get(ctx, ref.Content, metav1.GetOptions{})
		if err != nil {
			return "", fmt.Errorf("the backup does not name the CSI driver and VolumeSnapshotContent %s cannot be read: %w", ref.Content, err)
		}
		driver, _, _ = unstructured.NestedString(vsc.Object, "spec", "driver")
	}
	sum := sha256.Sum256([]byte(ns + "/" + ref.Name + "/" + ref.Handle))
	contentName := "ark-restore-" + hex.EncodeToString(sum[:])[:20]
	vsc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": Group + "/v1", "kind": "VolumeSnapshotContent",
		"metadata": map[string]any{"name": contentName, "labels": map[string]any{format.RestoredFromTag: labelValue(ref.Content)}},
		"spec": map[string]any{
			// Retain: the snapshot belongs to the backup; gc deletes it with the backup.
			"deletionPolicy":    "Retain",
			"driver":            driver,
			"source":            map[string]any{"snapshotHandle": ref.Handle},
			"volumeSnapshotRef": map[string]any{"namespace": ns, "name": ref.Name},
		},
	}}
	if p.opts.SnapshotClass != "" {
		_ = unstructured.SetNestedField(vsc.Object, p.opts.SnapshotClass, "spec", "volumeSnapshotClassName")
	}
	if _, err := p.client.Resource(VolumeSnapshotContents).Create(ctx, vsc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("creating VolumeSnapshotContent %s: %w", contentName, err)
	}
	vs := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": Group + "/v1", "kind": "VolumeSnapshot",
		"metadata": map[string]any{"name": ref.Name, "namespace": ns},
		"spec":     map[string]any{"source": map[string]any{"volumeSnapshotContentName": contentName}},
	}}
	if _, err := vsClient.Create(ctx, vs, metav1.CreateOptions{}); err != nil {
		if !apierrors.IsAlreadyExists(err) {
			return "", fmt.Errorf("creating VolumeSnapshot %s/%s: %w", ns, ref.Name, err)
		}
		got, err := vsClient.Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		if c, _, _ := unstructured.NestedString(got.Object, "spec", "source", "volumeSnapshotContentName"); c != contentName {
			return "", fmt.Errorf("VolumeSnapshot %s/%s exists but is not of snapshot %s", ns, ref.Name, ref.Handle)
		}
	}
	return ref.Name, nil
}

func (p *Provider) contentHandle(ctx context.Context, content string) (string, error) {
	vsc, err := p.client.Resource(VolumeSnapshotContents).Get(ctx, content, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if h, _, _ := unstructured.NestedString(vsc.Object, "status", "snapshotHandle"); h != "" {
		return h, nil
	}
	h, _, _ := unstructured.NestedString(vsc.Object, "spec", "source", "snapshotHandle")
	return h, nil
}

// DeleteSnapshot sets the snapshot's VolumeSnapshotContent to deletionPolicy Delete and
// deletes it and its VolumeSnapshot, so that the CSI driver deletes the snapshot. What is
// SnapshotBackupTag returns the backup tag the snapshot's VolumeSnapshot carries (its
// annotation format.BackupTag, as CreateSnapshot set it). A VolumeSnapshot gone, or
// bound to another content, cannot tell: the error then matches
// cloudprovider.ErrTagsUnsupported, or ErrSnapshotNotFound when the content is gone too.
func (p *Provider) SnapshotBackupTag(ctx context.Context, snapshotID string) (string, error) {
	ref, err := ParseSnapshotID(snapshotID)
	if err != nil {
		return "", err
	}
	vs, err := p.client.Resource(VolumeSnapshots).Namespace(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if err == nil {
		if c, _, _ := unstructured.NestedString(vs.Object, "status", "boundVolumeSnapshotContentName"); c == ref.Content {
			return vs.GetAnnotations()[format.BackupTag], nil
		}
	} else if !apierrors.IsNotFound(err) {
		return "", p.wrap("read snapshot tags", snapshotID, err)
	}
	_, err = p.client.Resource(VolumeSnapshotContents).Get(ctx, ref.Content, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", p.wrap("read snapshot tags", snapshotID, cloudprovider.ErrSnapshotNotFound)
	}
	if err != nil {
		return "", p.wrap("read snapshot tags", snapshotID, err)
	}
	return "", p.wrap("read snapshot tags", snapshotID, fmt.Errorf("%w: its VolumeSnapshot %s/%s is gone or bound elsewhere", cloudprovider.ErrTagsUnsupported, ref.Namespace, ref.Name))
}

// already gone is not an error.
func (p *Provider) DeleteSnapshot(ctx context.Context, snapshotID string) error {
	ref, err := ParseSnapshotID(snapshotID)
	if err != nil {
		return err
	}
	contentGone := false
	if err := p.setDeletionPolicy(ctx, ref.Content, "Delete"); err != nil {
		if !apierrors.IsNotFound(errors.Unwrap(err)) {
			return p.wrap("delete snapshot", snapshotID, err)
		}
		contentGone = true
	}
	// The VolumeSnapshot of that name may be another now (one a restore made from the handle):
	// delete it only if it is bound to the backup's content.
	vsClient := p.client.Resource(VolumeSnapshots).Namespace(ref.Namespace)
	vs, err := vsClient.Get(ctx, ref.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return p.wrap("delete snapshot", snapshotID, fmt.Errorf("reading VolumeSnapshot %s/%s: %w", ref.Namespace, ref.Name, err))
	default:
		if c, _, _ := unstructured.NestedString(vs.Object, "status", "boundVolumeSnapshotContentName"); c == ref.Content {
			err = vsClient.Delete(ctx, ref.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: ptr(vs.GetUID())}})
			if err != nil && !apierrors.IsNotFound(err) {
				return p.wrap("delete snapshot", snapshotID, fmt.Errorf("deleting VolumeSnapshot %s/%s: %w", ref.Namespace, ref.Name, err))
			}
		}
	}
	if contentGone {
		klog.FromContext(ctx).Info("VolumeSnapshotContent of the snapshot is gone: nothing left to delete through the cluster", "snapshotID", snapshotID)
		return nil
	}
	err = p.client.Resource(VolumeSnapshotContents).Delete(ctx, ref.Content, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return p.wrap("delete snapshot", snapshotID, fmt.Errorf("deleting VolumeSnapshotContent %s: %w", ref.Content, err))
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
