// Package kube is a tools-only module that pins k8s.io/kubernetes so that
// hack/local-cluster.sh can build kube-apiserver and kube-controller-manager
// at a fixed version into _output/bin/. It has no code of its own; the
// imports live in tools.go behind the "tools" build tag.
//
// To move to another Kubernetes release, change the require line and every
// replace line in go.mod, then run `go mod tidy` in this directory (tidy is
// fine here, never in the main module) and commit go.mod and go.sum.
package kube
