package install

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heptio/ark/pkg/client"
)

// The flags' rules, and --dry-run printing without touching a cluster.
func TestInstallFlags(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(secret, []byte("[default]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args    string
		wantErr string
		wantOut string
	}{
		{"--provider aws --bucket b --backup-location-config region=r --dry-run", "needs credentials", ""},
		{"--provider aws --bucket b --backup-location-config region=r --secret-file " + secret + " --no-secret --dry-run", "contradict", ""},
		{"--provider filesystem --bucket b -o yaml", "needs --dry-run", ""},
		{"--provider filesystem --bucket b --dry-run -o table", `invalid --output "table": use one of yaml, json`, ""},
		{"--provider foo --bucket b", `unknown --provider "foo" (valid: aws, azure, filesystem, gcp)`, ""},
		// The snapshot provider's name before the credentials it would need.
		{"--provider aws --bucket b --snapshot-provider foo --dry-run", `unknown --snapshot-provider "foo" (valid: aws, azure, csi, gcp)`, ""},
		{"--provider aws --bucket b --secret-file " + secret + " --backup-location-config region=r,publicUrl=http://localhost:9000 --dry-run", "", "publicUrl: http://localhost:9000"},
		{"--provider aws --bucket b --no-secret --backup-location-config region=r --dry-run -o json", "", `"kind": "List"`},
		{"--provider filesystem --bucket b --secret-file /nonexistent --dry-run", "--secret-file", ""},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			c := NewCommand(client.NewFactory())
			var out bytes.Buffer
			c.SetOut(&out)
			c.SetErr(&out)
			c.SetArgs(strings.Fields(tt.args))
			err := c.Execute()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("output lacks %q:\n%s", tt.wantOut, out.String())
			}
			if strings.Contains(tt.args, "-o json") {
				var list struct{ Items []map[string]any }
				if err := json.Unmarshal(out.Bytes(), &list); err != nil || len(list.Items) < 10 {
					t.Errorf("-o json: %d items, %v", len(list.Items), err)
				}
			}
		})
	}
}
