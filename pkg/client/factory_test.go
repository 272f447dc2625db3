package client

import (
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
)

const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:6443"}
users:
- name: u
  user: {token: t}
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
`

func TestClientRateLimits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name          string
		set           bool
		qps           float32
		burst         int
		wantQPS       float32
		wantBurst     int
		wantThrottled bool
	}{
		{name: "kubeconfig defaults (client-go: 5/10)", wantQPS: 0, wantBurst: 0, wantThrottled: true},
		{name: "no client-side limit", set: true, qps: -1, burst: 200, wantQPS: -1, wantBurst: 200, wantThrottled: false},
		{name: "fixed limit", set: true, qps: 100, burst: 200, wantQPS: 100, wantBurst: 200, wantThrottled: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := NewFactory().(*factory)
			f.kubeconfig = path
			if tc.set {
				SetClientRateLimits(f, tc.qps, tc.burst)
			}
			cfg, err := f.ClientConfig()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.QPS != tc.wantQPS || cfg.Burst != tc.wantBurst {
				t.Errorf("QPS %v burst %d, want %v %d", cfg.QPS, cfg.Burst, tc.wantQPS, tc.wantBurst)
			}
			cfg.GroupVersion = &corev1.SchemeGroupVersion
			cfg.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
			rc, err := rest.RESTClientFor(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if throttled := rc.GetRateLimiter() != nil; throttled != tc.wantThrottled {
				t.Errorf("rate limiter present: %v, want %v", throttled, tc.wantThrottled)
			}
		})
	}
}
