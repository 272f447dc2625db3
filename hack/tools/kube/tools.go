//go:build tools

// This file records the Kubernetes commands this module builds, so that
// `go mod tidy` run inside hack/tools/kube keeps their dependencies.
package kube

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
