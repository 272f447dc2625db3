package cluster

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// Main is the body of an integration test binary's TestMain: it starts a
// cluster, runs setup (install CRDs, keep the cluster in a package variable,
// start stand-ins), runs the tests, then the teardown setup returned, and
// stops the cluster. It returns the exit code:
//
//	func TestMain(m *testing.M) {
//		os.Exit(cluster.Main(m, func(ctx context.Context, c *cluster.Cluster) (func(), error) {
//			testCluster = c
//			return nil, c.ApplyCRDs(ctx, "config/crd")
//		}))
//	}
func Main(m *testing.M, setup func(ctx context.Context, c *Cluster) (teardown func(), err error)) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := Start(ctx, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping cluster:", err)
		}
	}()
	if setup != nil {
		teardown, err := setup(ctx, c)
		if teardown != nil {
			defer teardown()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "setting up the test cluster:", err)
			return 1
		}
	}
	return m.Run()
}
