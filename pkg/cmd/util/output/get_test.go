package output

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestGetCommand(t *testing.T) {
	items := map[string]string{"a": "first", "b": "second"}
	g := GetCommand[string]{
		Plural: "things",
		List: func(_ context.Context, selector string) ([]string, []error, error) {
			switch selector {
			case "broken":
				return nil, nil, errors.New("server down")
			case "one-bad":
				return []string{"first"}, []error{errors.New("Backup ns/x cannot be read")}, nil
			}
			return []string{"first", "second"}, nil, nil
		},
		Get: func(_ context.Context, name string) (*string, error) {
			v, ok := items[name]
			if !ok {
				return nil, errors.New("not found")
			}
			return &v, nil
		},
		Print: func(w io.Writer, items []string, format string, _ time.Time) error {
			_, err := io.WriteString(w, format+":"+strings.Join(items, ","))
			return err
		},
	}
	tests := []struct {
		args    []string
		want    string
		wantErr string
	}{
		{args: nil, want: "table:first,second"},
		{args: []string{"b", "a", "-o", "yaml"}, want: "yaml:second,first"},
		{args: []string{"zzz"}, wantErr: `getting "zzz": not found`},
		{args: []string{"-l", "broken"}, wantErr: "listing things: server down"},
		{args: []string{"-l", "one-bad"}, want: "Warning: Backup ns/x cannot be read\ntable:first"},
		{args: []string{"-o", "xml"}, wantErr: "invalid --output"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			c := g.Command(nil)
			var out bytes.Buffer
			c.SetOut(&out)
			c.SetErr(&out)
			c.SetArgs(tt.args)
			err := c.ExecuteContext(context.Background())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || out.String() != tt.want {
				t.Errorf("got %q, %v; want %q", out.String(), err, tt.want)
			}
		})
	}
}
