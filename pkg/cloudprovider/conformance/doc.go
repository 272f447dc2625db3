// Package conformance holds the ObjectStore conformance suite and benchmarks, run against
// every provider on a real server (MinIO or versitygw, fake-gcs-server, Azurite, a temporary
// directory). They need the build tag integration:
//
//	go test -tags integration ./pkg/cloudprovider/conformance/
//	go test -tags integration -bench . -run '^$' ./pkg/cloudprovider/conformance/
//
// The servers are started from _output/objectstores (hack/object-stores.sh install), or reused
// when the ARK_TEST_* variables of `hack/object-stores.sh start` are set. ARK_CONFORMANCE_PROVIDERS
// (e.g. "aws,filesystem") limits the providers.
package conformance
