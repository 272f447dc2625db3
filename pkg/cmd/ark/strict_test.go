package ark

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/heptio/ark/pkg/validation"
)

// Typos and wrong flags fail with exit status 2 and a clear error (a suggestion, the
// flag and what it takes) on stderr, and nothing on stdout, before anything is asked
// of a cluster (there is none here).
func TestExitCodesOfTypos(t *testing.T) {
	tests := []struct {
		args     string // split at spaces, but not inside '...'
		wantCode int
		wantErr  string // in stderr
		notErr   string // not in stderr
	}{
		{"backup creat x", ExitUsage, "Did you mean this?\n\tcreate", ""},
		{"bakup get", ExitUsage, "Did you mean this?\n\tbackup", ""},
		{"schedule pauze daily", ExitUsage, `unknown command "pauze" for "ark schedule"`, ""},
		{"backup get --outptu json", ExitUsage, "Did you mean this?\n\t--output", ""},
		{"backup create b --ttl forever", ExitUsage, `invalid argument "forever"`, ""},
		{"restore create", ExitUsage, "name the backup to restore", ""},
		{"version extra", ExitUsage, `unknown command "extra"`, ""},
		{"install --bucket b", ExitUsage, "--provider is required", ""},
		{"install --provider aws --bucket b", ExitUsage, "needs credentials", ""},
		{"backup create b --include-namespaces a --exclude-namespaces a", ExitUsage, `namespace "a" is both included and excluded`, ""},
		{"backup delete", ExitUsage, "name the backups to delete", ""},
		// A required flag missing, and a cron expression the server would not parse.
		{"schedule create daily", ExitUsage, `required flag(s) "schedule" not set`, ""},
		{"schedule create daily --schedule 'not a cron'", ExitUsage, `invalid --schedule "not a cron": expected exactly 5 fields`, ""},
		{"schedule create daily --schedule '61 7 * * *'", ExitUsage, `invalid --schedule "61 7 * * *"`, ""},
		{"schedule create daily --schedule ''", ExitUsage, `invalid --schedule ""`, ""},
		{"schedule create daily --schedule @daily --ttl -1h", ExitUsage, "--ttl -1h0m0s is negative", ""},
		// -o of every command that has one: the formats it takes.
		{"backup get -o xml", ExitUsage, `invalid --output "xml": use one of go-template, go-template-file, json, jsonpath`, ""},
		{"restore get -o xml", ExitUsage, `invalid --output "xml": use one of`, ""},
		{"schedule get -o xml", ExitUsage, `invalid --output "xml": use one of`, ""},
		{"backup logs b -o xml", ExitUsage, `invalid --output "xml": use one of text, json`, ""},
		{"restore logs r -o xml", ExitUsage, `invalid --output "xml": use one of text, json`, ""},
		{"backup diff b -o xml", ExitUsage, `invalid --output "xml": use one of text, json`, ""},
		{"install --provider filesystem --bucket b --dry-run -o xml", ExitUsage, `invalid --output "xml": use one of yaml, json`, ""},
		// Other enum-like flags: the values they take.
		{"restore create --from-backup b --existing-resource-policy bogus", ExitUsage, `existingResourcePolicy "bogus" is not one of none, update`, ""},
		{"restore create --from-schedule daily --existing-resource-policy bogus", ExitUsage, `existingResourcePolicy "bogus" is not one of none, update`, ""},
		{"restore create b --namespace-mappings a:x,b:x", ExitUsage, "a and b both map to x", ""},
		{"restore create b --selector 'a in (b'", ExitUsage, "invalid --selector", ""},
		{"install --provider foo --bucket b", ExitUsage, `unknown --provider "foo" (valid: aws, azure, filesystem, gcp)`, "credentials"},
		{"backup logs b --level loud", ExitUsage, `invalid --level "loud": use debug, info, warning or error`, ""},
		{"restore logs r --grep '('", ExitUsage, "invalid --grep", ""},
		{"server --log-level loud", ExitUsage, `invalid --log-level "loud": use debug, info, warning or error`, ""},
		{"server --log-format xml", ExitUsage, `invalid --log-format "xml": use text or json`, ""},
		{"server --backup-workers 0", ExitUsage, "--backup-workers must be at least 1", ""},
		// Flags that go together or not at all.
		{"backup get a -l app=x", ExitUsage, "names and --selector (-l) cannot be used together", ""},
		{"schedule pause", ExitUsage, "name the schedules to pause in one way", ""},
		{"schedule unpause a --all", ExitUsage, "name the schedules to unpause in one way", ""},
		{"backup", ExitOK, "", ""},
		{"version --client-only", ExitOK, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			c := NewCommand()
			c.SetArgs(splitArgs(tt.args))
			c.SetOut(&stdout)
			c.SetErr(&stderr)
			err := c.Execute()
			if got := ExitCode(err); got != tt.wantCode {
				t.Fatalf("exit code %d (%v), want %d", got, err, tt.wantCode)
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tt.wantErr)
			}
			if tt.notErr != "" && strings.Contains(stderr.String(), tt.notErr) {
				t.Errorf("stderr %q speaks of %q", stderr.String(), tt.notErr)
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

// splitArgs splits a command line at spaces, keeping what is inside '...' as one
// argument (without the quotes), as a shell does.
func splitArgs(s string) []string {
	var args []string
	var cur strings.Builder
	quoted, started := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			quoted, started = !quoted, true
		case r == ' ' && !quoted:
			if started {
				args = append(args, cur.String())
			}
			cur.Reset()
			started = false
		default:
			cur.WriteRune(r)
			started = true
		}
	}
	if started {
		args = append(args, cur.String())
	}
	return args
}

// cobra's own checks of flags (MarkFlagRequired, MarkFlagsMutuallyExclusive) are
// usage errors too, in any command of the tree.
func TestCobraFlagChecksAreUsageErrors(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"leaf"}, `required flag(s) "must" not set`},
		{[]string{"leaf", "--must", "x", "--a", "--b"}, "none of the others can be"},
		{[]string{"leaf", "--must", "x", "extra"}, `unknown command "extra"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			ran := false
			root := &cobra.Command{Use: "root", SilenceUsage: true, SilenceErrors: true}
			leaf := &cobra.Command{Use: "leaf", Args: cobra.NoArgs, RunE: func(*cobra.Command, []string) error { ran = true; return nil }}
			leaf.Flags().String("must", "", "")
			leaf.Flags().Bool("a", false, "")
			leaf.Flags().Bool("b", false, "")
			_ = leaf.MarkFlagRequired("must")
			leaf.MarkFlagsMutuallyExclusive("a", "b")
			root.AddCommand(leaf)
			strict(root)
			root.SetArgs(tt.args)
			err := root.Execute()
			if got := ExitCode(err); got != ExitUsage || !strings.Contains(fmt.Sprint(err), tt.wantErr) {
				t.Errorf("exit code %d (%v), want %d with %q", got, err, ExitUsage, tt.wantErr)
			}
			if ran {
				t.Error("the command ran")
			}
		})
	}
}
