//go:build integration

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkEncryption is the cost of client-side encryption (issue 21's goal: less than 20%
// more wall time): two servers in this run, one without encryption and one with
// Config.encryption (age, two recipients), each backing up the same namespace of 10,000
// ~1 KB ConfigMaps (ARK_BENCH_OBJECTS) into a filesystem bucket and restoring it into a new
// namespace, from the object's creation to Completed. Each is run twice, in alternating
// order (the one that runs second works on a bigger etcd); the sums are compared.
func BenchmarkEncryption(b *testing.B) {
	ctx := context.Background()
	k, breakGlass := newEncKey(b), newEncKey(b)
	plainEnv := startArk(b, testCluster, envOptions{})
	encEnv := startArk(b, testCluster, encrypted(nil, []encKey{k}, k, breakGlass))
	src := testCluster.NewNamespace(b)
	createConfigMapsRaw(b, testCluster, src, benchConfigMaps(benchObjects))

	for b.Loop() {
		var backup, restore [2]time.Duration // [plain, encrypted]
		envs := [2]*arkEnv{plainEnv, encEnv}
		for round := range 2 {
			for j := range 2 {
				i := (j + round) % 2 // alternate which goes first
				d, err := serverBackup(ctx, envs[i], fmt.Sprintf("enc-bench-%d", round), src)
				if err != nil {
					b.Fatal(err)
				}
				backup[i] += d
			}
		}
		for round := range 2 {
			var dsts []string
			for j := range 2 {
				i := (j + round) % 2
				dst := fmt.Sprintf("%s-enc%d-%d", src, i, round)
				dsts = append(dsts, dst)
				d, err := serverRestore(ctx, envs[i], fmt.Sprintf("enc-bench-%d", round), "enc-bench-0", src, dst, benchObjects)
				if err != nil {
					b.Fatal(err)
				}
				restore[i] += d
			}
			b.StopTimer()
			for _, ns := range dsts {
				if err := testCluster.DeleteNamespaceAndWait(ctx, ns, 10*time.Minute); err != nil {
					b.Errorf("deleting %s: %v", ns, err)
				}
			}
			b.StartTimer()
		}
		hwm, _ := procMemory(b, encEnv.server.Pid())
		for _, row := range []struct {
			work       string
			plain, enc time.Duration
		}{
			{fmt.Sprintf("backup %s ConfigMaps, encrypted (age)", fmtCount(benchObjects)), backup[0] / 2, backup[1] / 2},
			{fmt.Sprintf("restore %s ConfigMaps, encrypted (age)", fmtCount(benchObjects)), restore[0] / 2, restore[1] / 2},
		} {
			ratio := row.enc.Seconds() / row.plain.Seconds()
			b.Logf("%s: %.2fs, unencrypted %.2fs: encrypted/unencrypted %.3f", row.work, row.enc.Seconds(), row.plain.Seconds(), ratio)
			benchRow(b, row.work, "the same, unencrypted", row.plain, row.enc, fmt.Sprintf("encrypted/unencrypted %.2f (goal < 1.20)", ratio), hwm)
		}
		b.ReportMetric(backup[1].Seconds()/backup[0].Seconds(), "backup-enc/plain")
		b.ReportMetric(restore[1].Seconds()/restore[0].Seconds(), "restore-enc/plain")
	}
}
