package azure

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadCredentialsFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("AZURE_CLIENT_ID", "from-env")
	t.Setenv("AZURE_TENANT_ID", "")
	os.Unsetenv("AZURE_TENANT_ID")
	t.Setenv("AZURE_STORAGE_KEY", "")
	os.Unsetenv("AZURE_STORAGE_KEY")
	tests := []struct {
		name, path, wantErr string
		want                map[string]string
	}{
		{name: "no file configured", path: ""},
		{name: "missing file (optional Secret)", path: filepath.Join(dir, "none")},
		{
			name: "sets what the environment does not",
			path: write("ok", "# Azure\nAZURE_TENANT_ID=tenant\n\nexport AZURE_STORAGE_KEY=\"a=b==\"\nAZURE_CLIENT_ID=from-file\n"),
			want: map[string]string{"AZURE_TENANT_ID": "tenant", "AZURE_STORAGE_KEY": "a=b==", "AZURE_CLIENT_ID": "from-env"},
		},
		{name: "not an AZURE variable", path: write("bad", "PATH=/evil\n"), wantErr: "line 1"},
		{name: "no equals sign", path: write("noeq", "AZURE_TENANT_ID\n"), wantErr: "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := loadCredentialsFile(tt.path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.want {
				if got := os.Getenv(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}
