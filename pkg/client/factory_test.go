package client

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

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
			f.flags.KubeConfig = &path
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

const twoContexts = `apiVersion: v1
kind: Config
clusters:
- {name: c, cluster: {server: "https://127.0.0.1:6443"}}
- {name: d, cluster: {server: "https://127.0.0.2:6443"}}
users:
- {name: u, user: {token: t}}
contexts:
- {name: x, context: {cluster: c, user: u, namespace: kube-system}}
- {name: ctx-y, context: {cluster: d, user: u}}
current-context: x
`

// The kubectl flags (genericclioptions.ConfigFlags) choose the cluster; the namespace is
// ark's (ARK_NAMESPACE or heptio-ark), never the context's.
func TestGlobalFlags(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(twoContexts), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args     []string
		env      string
		wantHost string
		wantNS   string
	}{
		{args: nil, wantHost: "https://127.0.0.1:6443", wantNS: "heptio-ark"},
		{args: []string{"--context", "ctx-y"}, wantHost: "https://127.0.0.2:6443", wantNS: "heptio-ark"},
		{args: []string{"--kubecontext", "ctx-y", "-n", "backups"}, wantHost: "https://127.0.0.2:6443", wantNS: "backups"},
		{args: []string{"--server", "https://10.0.0.1:443"}, env: "ark-env", wantHost: "https://10.0.0.1:443", wantNS: "ark-env"},
		{args: []string{"--namespace", "flag"}, env: "ark-env", wantHost: "https://127.0.0.1:6443", wantNS: "flag"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Setenv(NamespaceEnvVar, tc.env)
			f := NewFactory()
			flags := pflag.NewFlagSet("ark", pflag.ContinueOnError)
			f.BindFlags(flags)
			if err := flags.Parse(append([]string{"--kubeconfig", path}, tc.args...)); err != nil {
				t.Fatal(err)
			}
			cfg, err := f.ClientConfig()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Host != tc.wantHost || f.Namespace() != tc.wantNS {
				t.Errorf("host %s namespace %s, want %s %s", cfg.Host, f.Namespace(), tc.wantHost, tc.wantNS)
			}
		})
	}
}
