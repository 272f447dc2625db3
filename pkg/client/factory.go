// Package client builds the Kubernetes and ark clients of the CLI and the
// server from kubectl's global flags (cli-runtime's genericclioptions.ConfigFlags:
// --kubeconfig, --context, --namespace/-n, --cluster, --user, --server, --token, --as, ...).
package client

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/heptio/ark/pkg/authz"
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
	flags   *genericclioptions.ConfigFlags
	qps     float32
	burst   int
	rateSet bool
}

// NewFactory returns a Factory whose namespace defaults to ARK_NAMESPACE, or heptio-ark
// (never the kubeconfig context's namespace: ark's objects live in the server's).
func NewFactory() Factory {
	ns := os.Getenv(NamespaceEnvVar)
	if ns == "" {
		ns = DefaultNamespace
	}
	flags := genericclioptions.NewConfigFlags(true)
	flags.Namespace = &ns
	// Not kubectl's discovery cache: no command uses it. --insecure-skip-tls-verify is left
	// to the downloading commands, where it is about the object store's URL (the API
	// server's is in the kubeconfig).
	flags.CacheDir = nil
	flags.Insecure = nil
	return &factory{flags: flags}
}

func (f *factory) BindFlags(flags *pflag.FlagSet) {
	f.flags.AddFlags(flags)
	flags.Lookup("kubeconfig").Usage = "Path to the kubeconfig file to use to talk to the Kubernetes API server. Unset means $KUBECONFIG, then ~/.kube/config, then the in-cluster config."
	flags.Lookup("namespace").Usage = "The namespace of the ark server and its resources (env " + NamespaceEnvVar + ")."
	// ark's (and Velero's) name of --context, kept for the scripts that use it.
	flags.StringVar(f.flags.Context, "kubecontext", "", "Same as --context.")
}

func (f *factory) ClientConfig() (*rest.Config, error) {
	cfg, err := f.flags.ToRESTConfig()
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

// ArkClient records the CLI's user as the requester of every ark object it
// creates (authz.RecordRequester): the server acts with that user's rights.
func (f *factory) ArkClient() (arkclient.Interface, error) {
	cfg, err := f.ClientConfig()
	if err != nil {
		return nil, err
	}
	if err := authz.RecordRequester(cfg); err != nil {
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

func (f *factory) Namespace() string { return *f.flags.Namespace }
