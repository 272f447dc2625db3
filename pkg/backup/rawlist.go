package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// RawLister lists one page of a resource as the API server's JSON, so that
// the items can be written as they came without building a map for each
// (decoding into unstructured objects was two thirds of a backup's CPU).
type RawLister interface {
	ListRaw(ctx context.Context, gvr schema.GroupVersionResource, namespace string, opts metav1.ListOptions) ([]byte, error)
}

// WithRawLister makes the backup list through l; items of most resources are
// then written byte for byte as listed, with apiVersion and kind added.
func WithRawLister(l RawLister) Option {
	return func(b *Backupper) { b.raw = l }
}

// RESTRawLister is the RawLister over a REST client.
type RESTRawLister struct {
	client rest.Interface
}

// NewRESTRawLister returns a RawLister talking to the API server of cfg.
func NewRESTRawLister(cfg *rest.Config) (*RESTRawLister, error) {
	c, err := rest.UnversionedRESTClientFor(dynamic.ConfigFor(rest.CopyConfig(cfg)))
	if err != nil {
		return nil, err
	}
	return &RESTRawLister{client: c}, nil
}

// ListRaw gets one page of gvr (in namespace, or all) with opts.
func (l *RESTRawLister) ListRaw(ctx context.Context, gvr schema.GroupVersionResource, namespace string, opts metav1.ListOptions) ([]byte, error) {
	p := "/apis/" + gvr.Group + "/" + gvr.Version
	if gvr.Group == "" {
		p = "/api/" + gvr.Version
	}
	if namespace != "" {
		p = path.Join(p, "namespaces", namespace)
	}
	req := l.client.Get().AbsPath(p, gvr.Resource)
	for k, v := range map[string]string{
		"labelSelector": opts.LabelSelector, "fieldSelector": opts.FieldSelector, "continue": opts.Continue,
		"resourceVersion": opts.ResourceVersion, "resourceVersionMatch": string(opts.ResourceVersionMatch),
	} {
		if v != "" {
			req = req.Param(k, v)
		}
	}
	if opts.Limit > 0 {
		req = req.Param("limit", strconv.FormatInt(opts.Limit, 10))
	}
	return req.Do(ctx).Raw()
}

// rawPage is a list response with its items kept as raw JSON.
type rawPage struct {
	Metadata struct {
		Continue           string `json:"continue"`
		RemainingItemCount *int64 `json:"remainingItemCount"`
	} `json:"metadata"`
	Items []json.RawMessage `json:"items"`
}

// rawItemHead is the part of an item the engine reads when it writes the
// item's bytes as they came.
type rawItemHead struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
}

// decodeRawPage turns a list response into a page. With full, items are
// decoded into complete unstructured objects (the engine reads their spec);
// otherwise each gets only its name, namespace and labels, and its raw bytes
// ride along to be written as they are.
func decodeRawPage(data []byte, full bool) (page, error) {
	var rp rawPage
	if err := json.Unmarshal(data, &rp); err != nil {
		return page{}, fmt.Errorf("decoding a list response: %w", err)
	}
	list := &unstructured.UnstructuredList{Object: map[string]any{}}
	list.SetContinue(rp.Metadata.Continue)
	list.SetRemainingItemCount(rp.Metadata.RemainingItemCount)
	list.Items = make([]unstructured.Unstructured, len(rp.Items))
	p := page{list: list}
	if !full {
		p.raw = make([][]byte, len(rp.Items))
	}
	for i, item := range rp.Items {
		if full {
			if err := json.Unmarshal(item, &list.Items[i].Object); err != nil {
				return page{}, fmt.Errorf("decoding a listed item: %w", err)
			}
			continue
		}
		var head rawItemHead
		if err := json.Unmarshal(item, &head); err != nil {
			return page{}, fmt.Errorf("decoding a listed item: %w", err)
		}
		u := &list.Items[i]
		u.Object = map[string]any{}
		u.SetName(head.Metadata.Name)
		u.SetNamespace(head.Metadata.Namespace)
		if head.Metadata.Labels != nil {
			u.SetLabels(head.Metadata.Labels)
		}
		if head.APIVersion != "" && head.Kind != "" {
			u.SetAPIVersion(head.APIVersion)
			u.SetKind(head.Kind)
		}
		p.raw[i] = item
	}
	return p, nil
}

// withTypeMeta returns a listed item's JSON with apiVersion and kind first,
// which list responses leave out of built-in objects' items.
func withTypeMeta(raw []byte, hasTypeMeta bool, apiVersion, kind string) []byte {
	if hasTypeMeta {
		return raw // custom resources' items carry them already
	}
	raw = bytes.TrimSpace(raw)
	var b bytes.Buffer
	b.Grow(len(raw) + len(apiVersion) + len(kind) + 32)
	b.WriteString(`{"apiVersion":`)
	av, _ := json.Marshal(apiVersion)
	b.Write(av)
	b.WriteString(`,"kind":`)
	k, _ := json.Marshal(kind)
	b.Write(k)
	if len(raw) > 2 { // "{...}" with at least one field
		b.WriteByte(',')
		b.Write(raw[1:])
	} else {
		b.WriteByte('}')
	}
	return b.Bytes()
}
