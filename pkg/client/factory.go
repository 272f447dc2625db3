// Package client builds the Kubernetes and ark clients of the CLI and the
// server from the global flags --kubeconfig, --kubecontext and --namespace.
package client

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	arkclient "github.com/heptio/ark/pkg/generated/clientset/versioned"
)

// DefaultNamespace is where the ark server and its resources live unless
// --namespace or ARK_NAMESPACE says otherwise.
const DefaultNamespace = "heptio-ark"

// NamespaceEnvVar overrides DefaultNamespace.
const NamespaceEnvVar = "ARK_NAMESPACE"

// Factory makes the clients every command needs.
type Factory interface {
	// BindFlags adds the global flags to a flag set.
	BindFlags(flags *pflag.FlagSet)
	// ClientConfig is the REST config of the selected cluster and context.
	ClientConfig() (*rest.Config, error)
	// ArkClient talks to the ark.heptio.com API.
	ArkClient() (arkclient.Interface, error)
	// DynamicClient talks to any resource.
	DynamicClient() (dynamic.Interface, error)
	// Namespace is the namespace of the ark server and its resources.
	Namespace() string
}

type factory struct {
	kubeconfig  string
	kubecontext string
	namespace   string
	qps         float32
	burst       int
	rateSet     bool
}

// NewFactory returns a Factory whose namespace defaults to ARK_NAMESPACE, or heptio-ark.
func NewFactory() Factory {
	ns := os.Getenv(NamespaceEnvVar)
	if ns == "" {
		ns = DefaultNamespace
	}
	return &factory{namespace: ns}
}

func (f *factory) BindFlags(flags *pflag.FlagSet) {
	flags.StringVar(&f.kubeconfig, "kubeconfig", "", "Path to the kubeconfig file to use to talk to the Kubernetes API server. Unset means $KUBECONFIG, then ~/.kube/config, then the in-cluster config.")
	flags.StringVar(&f.kubecontext, "kubecontext", "", "The context of the kubeconfig to use. Unset means its current context.")
	flags.StringVarP(&f.namespace, "namespace", "n", f.namespace, "The namespace of the ark server and its resources (env "+NamespaceEnvVar+").")
}

func (f *factory) ClientConfig() (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = f.kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: f.kubecontext}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading the Kubernetes client configuration: %w", err)
	}
	if f.rateSet {
		// A negative QPS means no client-side rate limiter (rest.RESTClientFor).
		cfg.QPS, cfg.Burst = f.qps, f.burst
	}
	return cfg, nil
}

// SetClientRateLimits makes every client of the factory use this QPS and burst
// instead of the kubeconfig's or client-go's defaults (5 and 10). A negative
// qps turns the client-side rate limiter off, as in client-go.
func SetClientRateLimits(f Factory, qps float32, burst int) {
	if ff, ok := f.(*factory); ok {
		ff.qps, ff.burst, ff.rateSet = qps, burst, true
	}
}

func (f *factory) ArkClient() (arkclient.Interface, error) {
	cfg, err := f.ClientConfig()
	if err != nil {
		return nil, err
	}
	return arkclient.NewForConfig(cfg)
}

func (f *factory) DynamicClient() (dynamic.Interface, error) {
	cfg, err := f.ClientConfig()
	if err != nil {
		return nil, err
	}
	return dynamic.NewForConfig(cfg)
}

func (f *factory) Namespace() string { return f.namespace }
