package redact

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestText(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		secrets        []string
	}{
		{
			name:    "azure SAS URL in a url.Error",
			in:      `azure: get "ark/backups/b1/b1.tar.gz": Get "http://127.0.0.1:10000/devstoreaccount1/ark/backups/b1/b1.tar.gz?se=2026-12-01&sig=c2VjcmV0c2ln%3D&sp=r&sv=2023-11-03": dial tcp 127.0.0.1:10000: connect: connection refused`,
			want:    `azure: get "ark/backups/b1/b1.tar.gz": Get "http://127.0.0.1:10000/devstoreaccount1/ark/backups/b1/b1.tar.gz?REDACTED": dial tcp 127.0.0.1:10000: connect: connection refused`,
			secrets: []string{"c2VjcmV0c2ln"},
		},
		{
			name:    "S3 presigned URL ending a sentence",
			in:      "fetching https://s3.example.com/ark/b1.tar.gz?X-Amz-Credential=AKIA%2F&X-Amz-Signature=deadbeef.",
			want:    "fetching https://s3.example.com/ark/b1.tar.gz?REDACTED.",
			secrets: []string{"deadbeef", "AKIA"},
		},
		{
			name:    "userinfo",
			in:      "dial http://user:hunter2@proxy.local:3128/x failed",
			want:    "dial http://REDACTED@proxy.local:3128/x failed",
			secrets: []string{"hunter2"},
		},
		{
			name:    "connection string",
			in:      "bad string DefaultEndpointsProtocol=https;AccountName=a;AccountKey=S3cr3tK3y==;EndpointSuffix=core.windows.net",
			secrets: []string{"S3cr3tK3y"},
		},
		{
			name:    "SAS connection string",
			in:      "BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;SharedAccessSignature=sv=2023&sig=abcSIG",
			secrets: []string{"abcSIG"},
		},
		{name: "nothing to do", in: "azure: list \"ark/backups/\": HTTP 403 AuthorizationFailure", want: "azure: list \"ark/backups/\": HTTP 403 AuthorizationFailure"},
		{name: "plain URL kept", in: "Get \"http://127.0.0.1:9000/ark/\": EOF", want: "Get \"http://127.0.0.1:9000/ark/\": EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Text(tc.in)
			if tc.want != "" && got != tc.want {
				t.Errorf("Text:\n got %s\nwant %s", got, tc.want)
			}
			for _, s := range tc.secrets {
				if strings.Contains(got, s) {
					t.Errorf("Text(%q) = %q still holds %q", tc.in, got, s)
				}
			}
		})
	}
}

func TestErrorKeepsIs(t *testing.T) {
	sentinel := errors.New("object not found")
	err := fmt.Errorf("get \"http://h/b/k?sig=s3cret\": %w", sentinel)
	r := Error(err)
	if strings.Contains(r.Error(), "s3cret") {
		t.Errorf("%q holds the signature", r)
	}
	if !errors.Is(r, sentinel) {
		t.Error("errors.Is lost the sentinel")
	}
	if !errors.Is(Error(fmt.Errorf("x: %w", context.Canceled)), context.Canceled) {
		t.Error("errors.Is lost context.Canceled")
	}
	if Error(nil) != nil {
		t.Error("Error(nil) != nil")
	}
	if Error(r) != r {
		t.Error("redacting twice wraps twice")
	}
}
