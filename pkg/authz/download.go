package authz

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/format"
)

// ContentsAccess returns what a user must be allowed to read what a backup
// holds: get on every kind of its resource list (format.ResourceList), in
// every namespace where it holds that kind, and cluster-wide for its
// cluster-scoped objects except Namespaces, each read as itself. resource maps a kind to its resource (discovery);
// a kind it does not know (false) is guessed the way kubectl does
// (meta.UnsafeGuessKindToResource): authorization compares names only.
func ContentsAccess(list format.ResourceList, resource func(schema.GroupVersionKind) (schema.GroupResource, bool)) []Access {
	var out []Access
	for key, entries := range list {
		i := strings.LastIndex(key, "/")
		if i < 0 {
			continue
		}
		gvk := schema.FromAPIVersionAndKind(key[:i], key[i+1:])
		gr, ok := resource(gvk)
		if !ok {
			plural, _ := meta.UnsafeGuessKindToResource(gvk)
			gr = plural.GroupResource()
		}
		if gr == (schema.GroupResource{Resource: "namespaces"}) {
			// A Namespace object is read as itself (a namespace admin may get theirs).
			for _, name := range entries {
				out = append(out, Access{Verb: "get", Resource: "namespaces", Namespace: name, Name: name})
			}
			continue
		}
		namespaces := map[string]bool{}
		for _, e := range entries {
			ns := ""
			if j := strings.Index(e, "/"); j >= 0 {
				ns = e[:j]
			}
			namespaces[ns] = true
		}
		for ns := range namespaces {
			out = append(out, Access{Verb: "get", Group: gr.Group, Resource: gr.Resource, Namespace: ns})
		}
	}
	return out
}

// Everything is the access of a user who may read every object of the
// cluster: the only one who may download a backup whose contents are not
// known (no resource list in the bucket).
var Everything = Access{Verb: "get", Group: "*", Resource: "*"}

// Downloads decides DownloadRequests: a file of a backup (its tarball, log,
// resource list, or the log and results of a restore of it, which all name or
// hold its objects) is signed only for a requester who may get every kind
// the backup holds, Secrets included, in every namespace it holds them.
type Downloads struct {
	Tenancy *Tenancy
	// ResourceList reads the backup's resource list from the bucket; false
	// when the bucket has none (a backup that failed, or written by an older
	// ark or by Velero).
	ResourceList func(ctx context.Context, backup string) (format.ResourceList, bool, error)
	// Resource maps a kind to its resource (discovery).
	Resource func(schema.GroupVersionKind) (schema.GroupResource, bool)
}

// Authorize returns nil if the requester of req may have its file of
// backup, else an error saying why not.
func (d *Downloads) Authorize(ctx context.Context, req *arkv1.DownloadRequest, backup string) error {
	actor, err := d.Tenancy.ActorFor(req)
	if err != nil {
		return err
	}
	if !actor.Checked() {
		return nil
	}
	// Who may read everything may have any file: one review, and no bucket read.
	refused, err := actor.Refused(ctx, []Access{Everything})
	if err != nil {
		return err
	}
	if len(refused) == 0 {
		return nil
	}
	list, ok, err := d.ResourceList(ctx, backup)
	if err != nil {
		return fmt.Errorf("reading the resource list of backup %q to check what it holds: %w", backup, err)
	}
	if !ok {
		return fmt.Errorf("refused: backup %q has no resource list in the bucket (it failed, or an older ark or Velero wrote it), so what it holds cannot be checked; only a user who may get every resource in every namespace may download its files, and %s may not", backup, actor)
	}
	if refused, err = actor.Refused(ctx, ContentsAccess(list, d.Resource)); err != nil {
		return err
	}
	if len(refused) == 0 {
		return nil
	}
	return fmt.Errorf("refused: %s may not read everything backup %q holds: %s", actor, backup, strings.Join(Denials(actor.String(), refused, 10), "; "))
}
