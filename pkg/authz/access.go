package authz

import (
	"context"
	"fmt"
	"sort"
	"sync"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	authzv1client "k8s.io/client-go/kubernetes/typed/authorization/v1"
)

// Access is one request a requester may or may not be allowed, in the terms
// of the API server's authorization (a SubjectAccessReview's
// resourceAttributes): a verb on a resource of a group, in a namespace or,
// with Namespace "", cluster-scoped or in every namespace at once; Name and
// Subresource narrow it to one object or a subresource ("exec").
type Access struct {
	Verb        string
	Group       string
	Resource    string
	Subresource string
	Namespace   string
	Name        string
}

// String renders the access for messages: "list secrets in namespace
// team-b", "create persistentvolumes (cluster-wide)", "get namespaces/team-b".
func (a Access) String() string {
	what := a.Resource
	if a.Group != "" {
		what += "." + a.Group
	}
	if a.Subresource != "" {
		what += "/" + a.Subresource
	}
	if a.Name != "" {
		what += " " + a.Name
	}
	switch {
	case a.Namespace != "" && a.Resource == "namespaces" && a.Group == "":
		return a.Verb + " " + what
	case a.Namespace != "":
		return a.Verb + " " + what + " in namespace " + a.Namespace
	}
	return a.Verb + " " + what + " (cluster-wide)"
}

// DefaultReviewWorkers is how many SubjectAccessReviews one check sends at
// once.
const DefaultReviewWorkers = 8

// Reviewer asks the API server what a requester may do, with
// SubjectAccessReviews (authorization.k8s.io/v1). The caller needs create on
// subjectaccessreviews.
type Reviewer struct {
	client  authzv1client.SubjectAccessReviewsGetter
	workers int
}

// NewReviewer returns a Reviewer sending its reviews through client.
func NewReviewer(client authzv1client.SubjectAccessReviewsGetter) *Reviewer {
	return &Reviewer{client: client, workers: DefaultReviewWorkers}
}

// Refused returns the accesses r may not do, each once, sorted by their
// String; none when r may do them all. It returns an error only when a review
// could not be made (the API server did not answer): then nothing is known to
// be allowed.
//
// Accesses that differ only in their namespace are first asked once
// cluster-wide (Namespace ""): what is allowed in every namespace is allowed
// in each, so a cluster administrator costs one review per verb and resource,
// and only what that refuses is asked namespace by namespace.
func (v *Reviewer) Refused(ctx context.Context, r Requester, accesses []Access) ([]Access, error) {
	unique := dedupe(accesses)
	type key struct{ verb, group, resource, sub, name string }
	byKey := map[key][]Access{}
	var keys []key
	var direct []Access
	for _, a := range unique {
		if a.Namespace == "" || a.Name != "" || a.Resource == "namespaces" {
			direct = append(direct, a)
			continue
		}
		k := key{a.Verb, a.Group, a.Resource, a.Subresource, a.Name}
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], a)
	}
	// First round: the direct accesses, and each group of namespaced ones
	// cluster-wide (a group of one is asked as it is).
	var first []Access
	for _, k := range keys {
		if g := byKey[k]; len(g) == 1 {
			first = append(first, g[0])
		} else {
			first = append(first, Access{Verb: k.verb, Group: k.group, Resource: k.resource, Subresource: k.sub})
		}
	}
	first = append(first, direct...)
	allowed, err := v.review(ctx, r, first)
	if err != nil {
		return nil, err
	}
	var refused, second []Access
	for i, a := range first {
		if allowed[i] {
			continue
		}
		if a.Namespace == "" && a.Name == "" && a.Resource != "namespaces" {
			if g := byKey[key{a.Verb, a.Group, a.Resource, a.Subresource, a.Name}]; len(g) > 1 {
				second = append(second, g...)
				continue
			}
		}
		refused = append(refused, a)
	}
	if len(second) > 0 {
		allowed, err := v.review(ctx, r, second)
		if err != nil {
			return nil, err
		}
		for i, a := range second {
			if !allowed[i] {
				refused = append(refused, a)
			}
		}
	}
	sort.Slice(refused, func(i, j int) bool { return refused[i].String() < refused[j].String() })
	return refused, nil
}

// review sends one SubjectAccessReview per access, workers at a time, and
// says for each whether it is allowed.
func (v *Reviewer) review(ctx context.Context, r Requester, accesses []Access) ([]bool, error) {
	allowed := make([]bool, len(accesses))
	errs := make([]error, len(accesses))
	next := make(chan int)
	var wg sync.WaitGroup
	workers := min(v.workers, len(accesses))
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				a := accesses[i]
				sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
					User:   r.Username,
					Groups: r.Groups,
					ResourceAttributes: &authorizationv1.ResourceAttributes{
						Namespace: a.Namespace, Verb: a.Verb, Group: a.Group, Resource: a.Resource,
						Subresource: a.Subresource, Name: a.Name,
					},
				}}
				got, err := v.client.SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
				if err != nil {
					errs[i] = fmt.Errorf("asking the API server whether %s may %s (SubjectAccessReview): %w", r.Username, a, err)
					continue
				}
				allowed[i] = got.Status.Allowed && !got.Status.Denied
			}
		}()
	}
	for i := range accesses {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return allowed, nil
}

func dedupe(accesses []Access) []Access {
	seen := make(map[Access]bool, len(accesses))
	out := make([]Access, 0, len(accesses))
	for _, a := range accesses {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

// Denials renders refused accesses as validation errors: "alice may not list
// secrets in namespace team-b". At most limit lines (0: all); the last one
// then says how many more were refused.
func Denials(who string, refused []Access, limit int) []string {
	out := make([]string, 0, len(refused))
	for i, a := range refused {
		if limit > 0 && i == limit-1 && len(refused) > limit {
			out = append(out, fmt.Sprintf("%s may not %s, nor %d more: see the server's log", who, a, len(refused)-i-1))
			break
		}
		out = append(out, fmt.Sprintf("%s may not %s", who, a))
	}
	return out
}
