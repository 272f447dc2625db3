package backup

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/heptio/ark/pkg/format"
)

// BenchmarkWriteItems measures the engine's own work per item (encode, tar,
// gzip) without any API server: 10,000 ~1 KB ConfigMaps per op.
func BenchmarkWriteItems(b *testing.B) {
	items := make([]map[string]interface{}, 10000)
	data := strings.Repeat("x", 1000)
	for i := range items {
		items[i] = map[string]interface{}{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]interface{}{
				"name": fmt.Sprintf("cm-%05d", i), "namespace": "bench", "uid": "4f0c3e1e-8a5e-4c2b-9d7a-0b1f1f0e2a3c",
				"resourceVersion": "123456", "creationTimestamp": "2026-11-22T00:00:00Z",
			},
			"data": map[string]interface{}{"data": data},
		}
	}
	gr := schema.GroupResource{Resource: "configmaps"}
	b.ReportAllocs()
	for b.Loop() {
		tw := newTarWriter(io.Discard, time.Time{})
		for _, it := range items {
			raw, err := json.Marshal(it)
			if err != nil {
				b.Fatal(err)
			}
			md := it["metadata"].(map[string]interface{})
			if err := tw.writeFile(format.ItemPath(gr, "bench", md["name"].(string)), raw); err != nil {
				b.Fatal(err)
			}
		}
		if err := tw.close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeRawPage measures decoding one list page of 500 ~1 KB
// ConfigMaps as the API server sends it (the head of each item, raw bytes kept).
func BenchmarkDecodeRawPage(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"9","continue":"abc","remainingItemCount":9500},"items":[`)
	for i := range 500 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"metadata":{"name":"cm-%05d","namespace":"bench","uid":"4f0c3e1e-8a5e-4c2b-9d7a-0b1f1f0e2a3c","resourceVersion":"123456","creationTimestamp":"2026-11-22T00:00:00Z","labels":{"app":"bench"},"managedFields":[{"manager":"e2e.test","operation":"Update","apiVersion":"v1","time":"2026-11-22T00:00:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:data":{".":{},"f:value":{}},"f:metadata":{"f:labels":{".":{},"f:app":{}}}}}]},"data":{"value":"%s"}}`, i, strings.Repeat("x", 900))
	}
	sb.WriteString(`]}`)
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		p, err := decodeRawPage(data, false)
		if err != nil || len(p.raw) != 500 {
			b.Fatal(err)
		}
	}
}
