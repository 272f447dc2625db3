package server

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/klog/v2"
)

func TestConfigureLogging(t *testing.T) {
	defer klog.ClearLogger()
	tests := []struct {
		level, format string
		wantErr       string
		wantDebug     bool
		wantInfo      bool
	}{
		{level: "info", format: "json", wantInfo: true},
		{level: "debug", format: "text", wantInfo: true, wantDebug: true},
		{level: "error", format: "json"},
		{level: "loud", format: "json", wantErr: "invalid --log-level"},
		{level: "info", format: "xml", wantErr: "invalid --log-format"},
	}
	for _, tt := range tests {
		t.Run(tt.level+"-"+tt.format, func(t *testing.T) {
			var buf bytes.Buffer
			err := configureLogging(tt.level, tt.format, &buf)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			logger := klog.FromContext(context.Background()).WithValues("backup", "heptio-ark/nightly")
			logger.Info("Backup started", "url", "http://127.0.0.1:1/c/b?se=1&sig=s3cretSig")
			logger.V(2).Info("Listing deployments")
			out := buf.String()
			if strings.Contains(out, "Backup started") != tt.wantInfo || strings.Contains(out, "Listing deployments") != tt.wantDebug {
				t.Errorf("output at %s:\n%s", tt.level, out)
			}
			if strings.Contains(out, "s3cretSig") {
				t.Errorf("the log holds a signature:\n%s", out)
			}
			if tt.wantInfo && !strings.Contains(out, "nightly") {
				t.Errorf("the line lacks the backup's name:\n%s", out)
			}
			if tt.format == "json" && tt.wantInfo {
				var line map[string]any
				if err := json.Unmarshal([]byte(strings.Split(out, "\n")[0]), &line); err != nil {
					t.Errorf("not JSON: %v\n%s", err, out)
				}
			}
		})
	}
}
