package oplog

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// A log of the slog format, one of the older format (lower-case levels), and a line
// that is not JSON.
const sampleLog = `{"time":"2026-11-21T07:00:00Z","level":"INFO","msg":"Starting backup","backup":"daily"}
{"time":"2026-11-21T07:00:01Z","level":"INFO","msg":"Item backed up","backup":"daily","resource":"configmaps","namespace":"app","name":"settings"}
{"time":"2026-11-21T07:00:02Z","level":"WARN","msg":"Item skipped","backup":"daily","name":"x","resource":"pods","namespace":"app","reason":"a volume snapshot ark made"}
{"time":"2026-11-21T07:00:03Z","level":"error","msg":"Resource not listed","backup":"daily","resource":"widgets.example.com","error":"forbidden: \"no\"","items":3}
not json at all
`

func TestPrint(t *testing.T) {
	tests := []struct {
		name    string
		f       Filter
		want    string
		wantErr string
	}{
		{name: "human", want: `2026-11-21T07:00:00Z INFO  Starting backup
2026-11-21T07:00:01Z INFO  Item backed up resource=configmaps namespace=app name=settings
2026-11-21T07:00:02Z WARN  Item skipped resource=pods namespace=app name=x reason="a volume snapshot ark made"
2026-11-21T07:00:03Z ERROR Resource not listed resource=widgets.example.com error="forbidden: \"no\"" items=3
not json at all
`},
		{name: "level warning", f: Filter{MinLevel: "warning"}, want: `2026-11-21T07:00:02Z WARN  Item skipped resource=pods namespace=app name=x reason="a volume snapshot ark made"
2026-11-21T07:00:03Z ERROR Resource not listed resource=widgets.example.com error="forbidden: \"no\"" items=3
`},
		{name: "grep", f: Filter{Grep: regexp.MustCompile(`namespace=app name=settings`)}, want: "2026-11-21T07:00:01Z INFO  Item backed up resource=configmaps namespace=app name=settings\n"},
		{name: "json, level error", f: Filter{MinLevel: "ERROR", JSON: true}, want: `{"time":"2026-11-21T07:00:03Z","level":"error","msg":"Resource not listed","backup":"daily","resource":"widgets.example.com","error":"forbidden: \"no\"","items":3}
`},
		{name: "json, grep", f: Filter{JSON: true, Grep: regexp.MustCompile("Starting")}, want: `{"time":"2026-11-21T07:00:00Z","level":"INFO","msg":"Starting backup","backup":"daily"}
`},
		{name: "bad level", f: Filter{MinLevel: "loud"}, wantErr: `unknown level "loud"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Print(&out, strings.NewReader(sampleLog), tt.f)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", out.String(), tt.want)
			}
		})
	}
}
