package ark

import (
	"bytes"
	"strings"
	"testing"

	"github.com/heptio/ark/pkg/validation"
)

// Typos fail with exit status 2 and a suggestion on stderr, and nothing on stdout.
func TestExitCodesOfTypos(t *testing.T) {
	tests := []struct {
		args     string
		wantCode int
		wantErr  string // in stderr
	}{
		{"backup creat x", ExitUsage, "Did you mean this?\n\tcreate"},
		{"bakup get", ExitUsage, "Did you mean this?\n\tbackup"},
		{"schedule pauze daily", ExitUsage, `unknown command "pauze" for "ark schedule"`},
		{"backup get --outptu json", ExitUsage, "Did you mean this?\n\t--output"},
		{"backup create b --ttl forever", ExitUsage, `invalid argument "forever"`},
		{"restore create", ExitUsage, "name the backup to restore"},
		{"version extra", ExitUsage, `unknown command "extra"`},
		{"install --bucket b", ExitUsage, "--provider is required"},
		{"install --provider aws --bucket b", ExitUsage, "needs credentials"},
		{"backup create b --include-namespaces a --exclude-namespaces a", ExitUsage, `namespace "a" is both included and excluded`},
		{"backup delete", ExitUsage, "name the backups to delete"},
		{"backup", ExitOK, ""},
		{"version --client-only", ExitOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			c := NewCommand()
			c.SetArgs(strings.Fields(tt.args))
			c.SetOut(&stdout)
			c.SetErr(&stderr)
			err := c.Execute()
			if got := ExitCode(err); got != tt.wantCode {
				t.Fatalf("exit code %d (%v), want %d", got, err, tt.wantCode)
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tt.wantErr)
			}
			if tt.wantCode != ExitOK && stdout.Len() > 0 {
				t.Errorf("a usage error wrote to stdout: %q", stdout.String())
			}
		})
	}
	if !strings.Contains(NewCommand().Long, "Exit status: 0") {
		t.Error("ark --help does not document the exit codes")
	}
}

func TestDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"outptu", "output", 2}, {"creat", "create", 1}, {"abc", "", 3}} {
		if got := validation.EditDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
