//go:build integration

package conformance

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/persistence"
)

// TestBackupStore runs the bucket layout of package persistence on every provider.
func TestBackupStore(t *testing.T) {
	forEach(t, func(t *testing.T, p *provider) {
		ctx := context.Background()
		s, err := persistence.NewBackupStore(p.store, bucket, strings.TrimSuffix(testPrefix(t), "/"))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"nightly-20261121070000", "pre-upgrade"} {
			err := s.PutBackupObject(ctx, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: name}},
				strings.NewReader("tarball"), strings.NewReader("log of "+name))
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := s.PutRestoreLog(ctx, "pre-upgrade", "pre-upgrade-20261122000000", strings.NewReader("restore log")); err != nil {
			t.Fatal(err)
		}
		names, err := s.ListBackups(ctx)
		if err != nil || strings.Join(names, ",") != "nightly-20261121070000,pre-upgrade" {
			t.Fatalf("ListBackups = %v, %v", names, err)
		}
		fetch := func(target persistence.DownloadTarget) string {
			u, err := s.GetDownloadURL(ctx, target, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return string(b)
		}
		if got := fetch(persistence.DownloadTarget{Kind: persistence.DownloadBackupLog, Name: "pre-upgrade"}); got != "log of pre-upgrade" {
			t.Errorf("backup log = %q", got)
		}
		if got := fetch(persistence.DownloadTarget{Kind: persistence.DownloadRestoreLog, Name: "pre-upgrade-20261122000000", BackupName: "pre-upgrade"}); got != "restore log" {
			t.Errorf("restore log = %q", got)
		}
		// The name is claimed: a second create of it fails and changes nothing.
		if err := s.CreateBackupMetadata(ctx, &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "pre-upgrade", UID: "other"}}); !errors.Is(err, persistence.ErrBackupExists) {
			t.Errorf("claiming an existing name: %v, want ErrBackupExists", err)
		}
		if m, err := s.GetBackup(ctx, "pre-upgrade"); err != nil || m.UID != "" || m.Status.Contents == nil || m.Status.Contents.Size != int64(len("tarball")) {
			t.Errorf("metadata after a lost claim: %+v, %v", m, err)
		}
		if err := s.DeleteBackup(ctx, "pre-upgrade"); err != nil {
			t.Fatal(err)
		}
		names, _ = s.ListBackups(ctx)
		if strings.Join(names, ",") != "nightly-20261121070000" {
			t.Fatalf("after delete ListBackups = %v", names)
		}
		if err := s.DeleteBackup(ctx, "nightly-20261121070000"); err != nil {
			t.Fatal(err)
		}
	})
}
