// Package e2e holds ark's end-to-end tests: the real `ark server` and `ark`
// client against a local control plane (pkg/test/cluster) and real buckets.
// They carry the build tag integration:
//
//	go test -tags integration ./pkg/test/e2e/ -v
package e2e
