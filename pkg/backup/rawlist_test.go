package backup

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestDecodeRawPageAndTypeMeta(t *testing.T) {
	list := []byte(`{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"9","continue":"abc","remainingItemCount":7},
	  "items":[{"metadata":{"name":"a","namespace":"ns","labels":{"app":"x"}},"data":{"k":"v"}},
	           {"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","namespace":"ns"},"spec":{"size":3}}]}`)
	p, err := decodeRawPage(list, false)
	if err != nil {
		t.Fatal(err)
	}
	if p.list.GetContinue() != "abc" || *p.list.GetRemainingItemCount() != 7 || len(p.list.Items) != 2 || len(p.raw) != 2 {
		t.Fatalf("page = %+v", p)
	}
	a := p.list.Items[0]
	if a.GetName() != "a" || a.GetNamespace() != "ns" || a.GetLabels()["app"] != "x" || a.GetAPIVersion() != "" {
		t.Errorf("head of a = %v", a.Object)
	}
	tests := []struct {
		name        string
		raw         []byte
		hasTypeMeta bool
		want        map[string]any
	}{
		{
			name: "built-in item gets apiVersion and kind",
			raw:  p.raw[0], hasTypeMeta: false,
			want: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "a", "namespace": "ns", "labels": map[string]any{"app": "x"}}, "data": map[string]any{"k": "v"}},
		},
		{
			name: "custom resource keeps its own",
			raw:  p.raw[1], hasTypeMeta: p.list.Items[1].GetKind() != "",
			want: map[string]any{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": map[string]any{"name": "w", "namespace": "ns"}, "spec": map[string]any{"size": float64(3)}},
		},
		{name: "empty object", raw: []byte(`{}`), want: map[string]any{"apiVersion": "v1", "kind": "ConfigMap"}},
		{name: "empty object with spaces", raw: []byte(" { } \n"), want: map[string]any{"apiVersion": "v1", "kind": "ConfigMap"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got map[string]any
			head, body := withTypeMeta(tt.raw, tt.hasTypeMeta, typeMetaHead("v1", "ConfigMap"))
			if err := json.Unmarshal(append(append([]byte{}, head...), body...), &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v\nwant %v", got, tt.want)
			}
		})
	}

	full, err := decodeRawPage(list, true)
	if err != nil || full.raw != nil || full.list.Items[0].Object["data"] == nil {
		t.Errorf("full decode: %v %+v", err, full)
	}
	if _, err := decodeRawPage([]byte(`{"items":[{"metadata":`), false); err == nil {
		t.Error("a truncated response decoded")
	}
}

func TestDecodeRawPage(t *testing.T) {
	tests := []struct {
		name       string
		data       string
		wantErr    bool
		wantItems  int
		wantLabels map[string]string
		wantNext   string
	}{
		{name: "escaped label value is unescaped", data: `{"metadata":{},"items":[{"metadata":{"name":"a","namespace":"n","labels":{"k":"a\u003cb"}}}]}`,
			wantItems: 1, wantLabels: map[string]string{"k": "a<b"}},
		{name: "no items", data: `{"metadata":{"continue":""},"items":[]}`},
		{name: "null items", data: `{"metadata":{},"items":null}`},
		{name: "last page of several", data: `{"metadata":{"continue":"t"},"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]}`, wantItems: 2, wantNext: "t"},
		{name: "item not an object", data: `{"items":[1]}`, wantErr: true},
		{name: "items not an array", data: `{"items":{}}`, wantErr: true},
		{name: "not an object", data: `[]`, wantErr: true},
		{name: "trailing garbage", data: `{"items":[]}x`, wantErr: true},
		{name: "empty", data: ``, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.data)
			p, err := decodeRawPage(data, false)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if len(p.list.Items) != tt.wantItems || len(p.raw) != tt.wantItems || p.list.GetContinue() != tt.wantNext {
				t.Fatalf("items %d raw %d continue %q", len(p.list.Items), len(p.raw), p.list.GetContinue())
			}
			for i, raw := range p.raw {
				// The raw bytes are the item's own, in place in the response.
				if !json.Valid(raw) || !inside(raw, data) {
					t.Errorf("raw %d = %s, not a slice of the response", i, raw)
				}
			}
			if tt.wantLabels != nil && !reflect.DeepEqual(p.list.Items[0].GetLabels(), tt.wantLabels) {
				t.Errorf("labels = %v, want %v", p.list.Items[0].GetLabels(), tt.wantLabels)
			}
		})
	}
}

// inside says whether b is a slice of the memory of whole.
func inside(b, whole []byte) bool {
	for i := range whole {
		if &whole[i] == &b[0] {
			return i+len(b) <= len(whole)
		}
	}
	return false
}
