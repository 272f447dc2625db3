// Package examples embeds the shipped manifests of examples/ so that `ark
// install` (pkg/install) renders exactly what a user applying these files gets:
// one source, no copy to drift. 00-prereqs.yaml is generated from config/ by
// hack/update-codegen.sh.
package examples

import "embed"

// Prereqs is common/00-prereqs.yaml: the namespace heptio-ark, the CRDs, and the
// ServiceAccount and RBAC of the server.
//
//go:embed common/00-prereqs.yaml
var Prereqs []byte

// Deployment is common/10-deployment.yaml: the server's Deployment.
//
//go:embed common/10-deployment.yaml
var Deployment []byte

// Configs holds common/config/<provider>.yaml, one example Config per object
// storage provider (aws, azure, filesystem, gcp).
//
//go:embed common/config/*.yaml
var Configs embed.FS
