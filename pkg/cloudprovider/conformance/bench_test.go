//go:build integration

package conformance

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"
)

const benchSize = 256 << 20

func reportMemory(b *testing.B, h *heapSampler) {
	b.ReportMetric(h.Stop(), "peak-heap-MiB")
	b.ReportMetric(h.RSS(), "peak-rss-MiB")
}

// BenchmarkUpload streams 256 MiB of unknown length into each provider.
func BenchmarkUpload(b *testing.B) {
	forEachB(b, func(b *testing.B, p *provider) {
		ctx := context.Background()
		key := fmt.Sprintf("bench-%d/upload", time.Now().UnixNano())
		b.SetBytes(benchSize)
		h := startHeapSampler()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := p.store.PutObject(ctx, bucket, key, newRandomStream(benchSize, byte(i))); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		reportMemory(b, h)
		_ = p.store.DeleteObject(ctx, bucket, key)
	})
}

// BenchmarkDownload reads a 256 MiB object from each provider.
func BenchmarkDownload(b *testing.B) {
	forEachB(b, func(b *testing.B, p *provider) {
		ctx := context.Background()
		key := fmt.Sprintf("bench-%d/download", time.Now().UnixNano())
		if err := p.store.PutObject(ctx, bucket, key, newRandomStream(benchSize, 9)); err != nil {
			b.Fatal(err)
		}
		defer p.store.DeleteObject(ctx, bucket, key)
		b.SetBytes(benchSize)
		buf := make([]byte, 256<<10)
		h := startHeapSampler()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			r, err := p.store.GetObject(ctx, bucket, key)
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.CopyBuffer(io.Discard, r, buf)
			r.Close()
			if err != nil || n != benchSize {
				b.Fatalf("read %d bytes: %v", n, err)
			}
		}
		b.StopTimer()
		reportMemory(b, h)
	})
}
