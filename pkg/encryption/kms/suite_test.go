package kms

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"

	"filippo.io/age"
)

// cloud is what the suite needs of one KMS test server: two distinct keys on
// it, and key A opened against a server that is not there.
type cloud struct {
	a, b func(t *testing.T) *Key
	down func(t *testing.T) *Key
	// downSecret is a credential in down's endpoint that no error may show.
	downSecret string
}

const secret = "s3cr3t-value-of-a-Secret-in-the-backup"

func encrypt(t *testing.T, recipients ...age.Recipient) ([]byte, error) {
	t.Helper()
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, recipients...)
	if err != nil {
		if buf.Len() != 0 {
			t.Errorf("age.Encrypt failed (%v) but wrote %d bytes", err, buf.Len())
		}
		return nil, err
	}
	if _, err := io.WriteString(w, secret); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte(secret)) {
		t.Fatal("the encrypted file holds the plaintext")
	}
	return buf.Bytes(), nil
}

func decrypt(ciphertext []byte, identities ...age.Identity) (string, error) {
	r, err := age.Decrypt(bytes.NewReader(ciphertext), identities...)
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(r)
	return string(b), err
}

// runSuite runs the cases every KMS must pass, table-driven.
func runSuite(t *testing.T, c cloud) {
	x25519, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	a, b := c.a(t), c.b(t)
	if a.ID() == b.ID() {
		t.Fatalf("keys A and B have one ID %s", a.ID())
	}
	for _, tc := range []struct {
		name       string
		recipients []age.Recipient
		identities []age.Identity
		// wantErr: "" decrypts; else the error holds each ;-separated part.
		wantErr        string
		wantIncorrect  bool // errors.Is(err, age.ErrIncorrectIdentity)
		wantEncryptErr string
	}{
		{name: "KMS alone", recipients: []age.Recipient{a.Recipient()}, identities: []age.Identity{a.Identity()}},
		{name: "KMS and X25519, KMS decrypts", recipients: []age.Recipient{x25519.Recipient(), a.Recipient()},
			identities: []age.Identity{a.Identity()}},
		{name: "KMS and X25519, X25519 decrypts", recipients: []age.Recipient{a.Recipient(), x25519.Recipient()},
			identities: []age.Identity{x25519}},
		{name: "KMS and X25519, both offered", recipients: []age.Recipient{a.Recipient(), x25519.Recipient()},
			identities: []age.Identity{a.Identity(), x25519}},
		{name: "two KMS keys, the second decrypts", recipients: []age.Recipient{a.Recipient(), b.Recipient()},
			identities: []age.Identity{b.Identity()}},
		{name: "rotation: old key kept beside the new one", recipients: []age.Recipient{a.Recipient()},
			identities: []age.Identity{b.Identity(), a.Identity()}},
		{name: "wrong KMS key", recipients: []age.Recipient{a.Recipient()}, identities: []age.Identity{b.Identity()},
			wantErr: "not for " + b.ID(), wantIncorrect: true},
		{name: "wrong X25519 key, KMS file", recipients: []age.Recipient{a.Recipient()}, identities: []age.Identity{other},
			wantIncorrect: true, wantErr: "did not match"},
		{name: "KMS key, X25519-only file", recipients: []age.Recipient{x25519.Recipient()}, identities: []age.Identity{a.Identity()},
			wantIncorrect: true, wantErr: "no stanza of a KMS key;" + a.ID()},
		{name: "KMS down at decrypt", recipients: []age.Recipient{a.Recipient()}, identities: []age.Identity{c.down(t).Identity()},
			wantErr: "unwrapping the file key;" + a.ID()},
		{name: "KMS down at decrypt, X25519 also offered", recipients: []age.Recipient{a.Recipient(), x25519.Recipient()},
			identities: []age.Identity{c.down(t).Identity(), x25519}},
		{name: "KMS down at encrypt", recipients: []age.Recipient{c.down(t).Recipient(), x25519.Recipient()},
			wantEncryptErr: "wrapping the file key;" + a.ID()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct, err := encrypt(t, tc.recipients...)
			if err != nil && c.downSecret != "" && strings.Contains(err.Error(), c.downSecret) {
				t.Errorf("error shows a credential: %v", err)
			}
			if tc.wantEncryptErr != "" {
				if err == nil {
					t.Fatal("encrypted with a KMS that is down")
				}
				for _, part := range strings.Split(tc.wantEncryptErr, ";") {
					if !strings.Contains(err.Error(), part) {
						t.Errorf("error %q does not say %q", err, part)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("encrypt: %v", err)
			}
			got, err := decrypt(ct, tc.identities...)
			if tc.wantErr == "" {
				if err != nil || got != secret {
					t.Fatalf("decrypt = %q, %v; want the plaintext", got, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("decrypted %q, want an error", got)
			}
			if c.downSecret != "" && strings.Contains(err.Error(), c.downSecret) {
				t.Errorf("error shows a credential: %v", err)
			}
			if got != "" {
				t.Errorf("an error (%v) but plaintext %q", err, got)
			}
			t.Logf("error: %v", err)
			if errors.Is(err, age.ErrIncorrectIdentity) != tc.wantIncorrect {
				t.Errorf("errors.Is(%v, age.ErrIncorrectIdentity) = %v, want %v", err, !tc.wantIncorrect, tc.wantIncorrect)
			}
			for _, part := range strings.Split(tc.wantErr, ";") {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not say %q", err, part)
				}
			}
		})
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func openT(t *testing.T, uri string) *Key {
	t.Helper()
	k, err := Open(context.Background(), uri)
	if err != nil {
		t.Fatalf("Open(%s): %v", uri, err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}
