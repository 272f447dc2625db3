// Package authz knows who asked for an ark operation and what they may do:
// the requester annotations of ark's objects (set by the CLI from a
// SelfSubjectReview, made unforgeable by the shipped admission policy), and
// the HTTP transport that fills them on every create of the CLI.
package authz

import (
	"context"
	"fmt"
	"slices"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	authnv1client "k8s.io/client-go/kubernetes/typed/authentication/v1"

	"github.com/heptio/ark/pkg/format"
)

// Requester is who asked for an operation: the user name and groups the API
// server authenticated them as.
type Requester struct {
	Username string
	Groups   []string
}

func (r Requester) String() string {
	return fmt.Sprintf("%s (groups: %s)", r.Username, strings.Join(r.Groups, ", "))
}

// RequesterOf returns the requester recorded on obj, and false when it has
// none (created by kubectl or a client older than the annotations).
func RequesterOf(obj metav1.Object) (Requester, bool) {
	a := obj.GetAnnotations()
	user, ok := a[format.RequesterAnnotation]
	if !ok || user == "" {
		return Requester{}, false
	}
	r := Requester{Username: user}
	if g := a[format.RequesterGroupsAnnotation]; g != "" {
		r.Groups = strings.Split(g, ",")
	}
	return r, true
}

// SetRequester records r on obj. The admission policy accepts it on a create
// only from r itself (or from the ark server's ServiceAccount).
func SetRequester(obj metav1.Object, r Requester) {
	a := obj.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[format.RequesterAnnotation] = r.Username
	a[format.RequesterGroupsAnnotation] = strings.Join(r.Groups, ",")
	obj.SetAnnotations(a)
}

// CopyRequester records on dst the requester of src, if it has one (a
// schedule's backups are asked for by the schedule's requester).
func CopyRequester(dst, src metav1.Object) {
	if r, ok := RequesterOf(src); ok {
		SetRequester(dst, r)
	}
}

// WhoAmI asks the API server who the client is (SelfSubjectReview,
// authentication.k8s.io/v1, GA since Kubernetes 1.28).
func WhoAmI(ctx context.Context, client authnv1client.SelfSubjectReviewsGetter) (Requester, error) {
	review, err := client.SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return Requester{}, fmt.Errorf("asking the API server who you are (SelfSubjectReview): %w", err)
	}
	u := review.Status.UserInfo
	return Requester{Username: u.Username, Groups: slices.Clone(u.Groups)}, nil
}
