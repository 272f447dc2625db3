package backup

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
)

func TestSpecFlags(t *testing.T) {
	no, yes := false, true
	tests := []struct {
		name    string
		args    []string
		want    arkv1.BackupSpec
		wantErr string
	}{
		{
			name: "defaults leave optional booleans unset",
			want: arkv1.BackupSpec{IncludedNamespaces: []string{"*"}, TTL: metav1.Duration{Duration: 720 * time.Hour}},
		},
		{
			name: "quickstart",
			args: []string{"--selector", "app=nginx"},
			want: arkv1.BackupSpec{IncludedNamespaces: []string{"*"}, TTL: metav1.Duration{Duration: 720 * time.Hour},
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "nginx"}}},
		},
		{
			name: "every flag",
			args: []string{"--include-namespaces", "app,db", "--exclude-namespaces", "kube-system", "--include-resources", "deploy,secrets",
				"--exclude-resources", "events", "--ttl", "72h", "--snapshot-volumes=false", "--include-cluster-resources"},
			want: arkv1.BackupSpec{IncludedNamespaces: []string{"app", "db"}, ExcludedNamespaces: []string{"kube-system"},
				IncludedResources: []string{"deploy", "secrets"}, ExcludedResources: []string{"events"},
				TTL: metav1.Duration{Duration: 72 * time.Hour}, SnapshotVolumes: &no, IncludeClusterResources: &yes},
		},
		{name: "negative ttl", args: []string{"--ttl", "-1h"}, wantErr: "negative"},
		{name: "bad selector", args: []string{"--selector", "a in (b"}, wantErr: "invalid --selector"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o SpecFlags
			c := &cobra.Command{}
			o.BindFlags(c)
			if err := c.ParseFlags(tt.args); err != nil {
				t.Fatal(err)
			}
			got, err := o.Spec()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !equality.Semantic.DeepEqual(got, tt.want) {
				t.Errorf("spec = %+v\nwant   %+v", got, tt.want)
			}
		})
	}
}
