package arkserver

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"

	arkinstall "github.com/heptio/ark/pkg/install"
	"github.com/heptio/ark/pkg/test/cluster"
)

const (
	// PrereqsPath is the shipped manifest, relative to the repository root:
	// the namespace, the CRDs, and the ServiceAccount and RBAC of the server.
	PrereqsPath = "examples/common/00-prereqs.yaml"
	// ShippedNamespace is the namespace the shipped manifest installs into.
	ShippedNamespace = "heptio-ark"
	// ServiceAccount is the name of the server's ServiceAccount in the manifest.
	ServiceAccount = "ark"
	// tokenLifetime bounds the server's token: longer than the longest
	// benchmark (`make bench` allows 60 minutes).
	tokenLifetime = 6 * time.Hour
)

// RewritePrereqs returns the objects of the shipped manifest (YAML) changed to
// install into namespace ns instead of heptio-ark, as `ark install --namespace
// ns` does (install.RewriteForNamespace): the Namespace is renamed,
// namespaced objects and ServiceAccount subjects move to ns, and every
// ClusterRole, ClusterRoleBinding, ValidatingAdmissionPolicy and its Binding
// gets the suffix "-<ns>" (with the bindings' roleRefs and policyName to
// match) so that servers in several namespaces of one cluster do not share or
// fight over them. Rules, CRDs and everything else
// stay exactly as shipped.
func RewritePrereqs(manifest []byte, ns string) ([]*unstructured.Unstructured, error) {
	return arkinstall.RewriteForNamespace(manifest, ns)
}

// installs counts the Servers of each (cluster, namespace), so that the
// cluster-scoped RBAC is deleted only after the last of them stopped.
var installs = struct {
	sync.Mutex
	n map[installKey]int
}{n: map[installKey]int{}}

type installKey struct {
	c  *cluster.Cluster
	ns string
}

// install applies the rewritten manifest into ns (idempotent: server-side
// apply) and registers the deletion of its cluster-scoped objects when the
// last Server of ns is cleaned up.
func install(ctx context.Context, c *cluster.Cluster, repoRoot, ns, dir string) (release func(), err error) {
	manifest, err := os.ReadFile(filepath.Join(repoRoot, PrereqsPath))
	if err != nil {
		return nil, err
	}
	objs, err := RewritePrereqs(manifest, ns)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", PrereqsPath, err)
	}
	var buf bytes.Buffer
	var clusterObjs []*unstructured.Unstructured
	for _, o := range objs {
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, err
		}
		buf.WriteString("---\n")
		buf.Write(data)
		if arkinstall.ClusterScoped(o.GetKind()) {
			clusterObjs = append(clusterObjs, o)
		}
	}
	path := filepath.Join(dir, "prereqs.yaml")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		return nil, err
	}
	key := installKey{c, ns}
	installs.Lock()
	installs.n[key]++
	installs.Unlock()
	release = func() {
		installs.Lock()
		installs.n[key]--
		last := installs.n[key] == 0
		if last {
			delete(installs.n, key)
		}
		installs.Unlock()
		if !last {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rbac := c.Client().RbacV1()
		admission := c.Client().AdmissionregistrationV1()
		for _, o := range clusterObjs {
			var err error
			switch o.GetKind() {
			case "ClusterRole":
				err = rbac.ClusterRoles().Delete(ctx, o.GetName(), metav1.DeleteOptions{})
			case "ClusterRoleBinding":
				err = rbac.ClusterRoleBindings().Delete(ctx, o.GetName(), metav1.DeleteOptions{})
			case "ValidatingAdmissionPolicy":
				err = admission.ValidatingAdmissionPolicies().Delete(ctx, o.GetName(), metav1.DeleteOptions{})
			case "ValidatingAdmissionPolicyBinding":
				err = admission.ValidatingAdmissionPolicyBindings().Delete(ctx, o.GetName(), metav1.DeleteOptions{})
			}
			_ = err // best effort: a leftover in a throwaway cluster harms nothing
		}
	}
	if err := c.ApplyYAML(ctx, path); err != nil {
		release()
		return nil, fmt.Errorf("applying %s for namespace %s: %w", PrereqsPath, ns, err)
	}
	return release, nil
}

// WriteKubeconfig asks the API server for a token of the ServiceAccount
// ns/serviceAccount (the TokenRequest API, as kubectl create token does; valid
// for 6 hours) and writes to path (mode 0600) a kubeconfig that holds only that
// token and the cluster's address and CA: what a server in a pod of that
// ServiceAccount would be. The ServiceAccount may have been created a moment
// ago (a NotFound is retried for 5 s).
func WriteKubeconfig(ctx context.Context, c *cluster.Cluster, ns, serviceAccount, path string) error {
	seconds := int64(tokenLifetime / time.Second)
	var tr *authenticationv1.TokenRequest
	var err error
	// The ServiceAccount was just applied; a create may race its cache.
	for i := 0; i < 50; i++ {
		tr, err = c.Client().CoreV1().ServiceAccounts(ns).CreateToken(ctx, serviceAccount,
			&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &seconds}}, metav1.CreateOptions{})
		if err == nil || !apierrors.IsNotFound(err) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("requesting a token for ServiceAccount %s/%s: %w", ns, serviceAccount, err)
	}
	admin := c.RESTConfig()
	clusterEntry := &clientcmdapi.Cluster{Server: admin.Host, CertificateAuthorityData: admin.CAData, CertificateAuthority: admin.CAFile}
	if len(admin.CAData) == 0 && admin.CAFile == "" {
		clusterEntry.InsecureSkipTLSVerify = admin.Insecure
	}
	user := "system:serviceaccount:" + ns + ":" + serviceAccount
	cfg := clientcmdapi.Config{
		Clusters:       map[string]*clientcmdapi.Cluster{"cluster": clusterEntry},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{user: {Token: tr.Status.Token}},
		Contexts:       map[string]*clientcmdapi.Context{serviceAccount: {Cluster: "cluster", AuthInfo: user, Namespace: ns}},
		CurrentContext: serviceAccount,
	}
	if err := clientcmd.WriteToFile(cfg, path); err != nil {
		return err
	}
	return os.Chmod(path, 0o600)
}
