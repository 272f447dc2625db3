package encryption

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"

	"filippo.io/age"
)

type key struct {
	secret string // AGE-SECRET-KEY-1…
	public string // age1…
}

func newKey(t *testing.T) key {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return key{secret: id.String(), public: id.Recipient().String()}
}

func keyring(t *testing.T, recipients []key, identities []key) *Keyring {
	t.Helper()
	var rs []string
	for _, k := range recipients {
		rs = append(rs, k.public)
	}
	parsed, err := ParseRecipients(rs)
	if err != nil {
		t.Fatal(err)
	}
	var ids []Identity
	if len(identities) > 0 {
		var lines []string
		for _, k := range identities {
			lines = append(lines, k.secret)
		}
		ids, err = ParseIdentities([]byte("# keys\n" + strings.Join(lines, "\n") + "\n"))
		if err != nil {
			t.Fatal(err)
		}
	}
	return NewKeyring(parsed, ids)
}

func encrypt(t *testing.T, k *Keyring, plain []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := k.Encrypt(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTripAndRotation(t *testing.T) {
	cluster, second, breakGlass, next := newKey(t), newKey(t), newKey(t), newKey(t)
	plain := make([]byte, 300<<10) // several 64 KiB chunks
	if _, err := rand.Read(plain); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		encryptFor []key
		decryptBy  []key
		recorded   []key // the key IDs recorded with the data; nil: none recorded
		wantNoKey  bool
	}{
		{name: "one recipient", encryptFor: []key{cluster}, decryptBy: []key{cluster}, recorded: []key{cluster}},
		{name: "second cluster decrypts", encryptFor: []key{cluster, second, breakGlass}, decryptBy: []key{second}, recorded: []key{cluster, second, breakGlass}},
		{name: "break-glass key decrypts", encryptFor: []key{cluster, second, breakGlass}, decryptBy: []key{breakGlass}, recorded: []key{cluster, second, breakGlass}},
		{name: "rotation: old key still decrypts old data", encryptFor: []key{cluster}, decryptBy: []key{next, cluster}, recorded: []key{cluster}},
		{name: "rotation: new key decrypts new data", encryptFor: []key{next}, decryptBy: []key{next, cluster}, recorded: []key{next}},
		{name: "no key recorded: every identity is tried", encryptFor: []key{cluster}, decryptBy: []key{next, cluster}},
		{name: "old key removed", encryptFor: []key{cluster}, decryptBy: []key{next}, recorded: []key{cluster}, wantNoKey: true},
		{name: "old key removed, none recorded", encryptFor: []key{cluster}, decryptBy: []key{next}, wantNoKey: true},
		{name: "no identity at all", encryptFor: []key{cluster}, recorded: []key{cluster}, wantNoKey: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := encrypt(t, keyring(t, tt.encryptFor, nil), plain)
			if bytes.Contains(enc, plain[:64]) {
				t.Fatal("ciphertext holds the plaintext")
			}
			var ids []string
			for _, k := range tt.recorded {
				ids = append(ids, k.public)
			}
			dec := keyring(t, nil, tt.decryptBy)
			checkErr := dec.CanDecrypt(`backup "b1"`, ids)
			r, err := dec.Decrypt(bytes.NewReader(enc), `backup "b1"`, ids)
			if tt.wantNoKey {
				if !errors.Is(err, ErrNoKey) {
					t.Fatalf("Decrypt: got %v, want ErrNoKey", err)
				}
				if !strings.Contains(err.Error(), `backup "b1" is encrypted for key(s)`) || !strings.Contains(err.Error(), "none of which is available") {
					t.Errorf("error %q does not say which backup and keys", err)
				}
				if strings.Contains(err.Error(), "AGE-SECRET-KEY") {
					t.Errorf("error %q holds key material", err)
				}
				if len(ids) > 0 && !errors.Is(checkErr, ErrNoKey) {
					t.Errorf("CanDecrypt: got %v, want ErrNoKey", checkErr)
				}
				return
			}
			if err != nil || checkErr != nil {
				t.Fatalf("Decrypt: %v; CanDecrypt: %v", err, checkErr)
			}
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, plain) {
				t.Fatal("round trip changed the data")
			}
		})
	}
}

func TestDamagedCiphertextFails(t *testing.T) {
	k := newKey(t)
	kr := keyring(t, []key{k}, []key{k})
	enc := encrypt(t, kr, bytes.Repeat([]byte("secret "), 20000))
	for _, tt := range []struct {
		name string
		mut  func([]byte) []byte
	}{
		{"flipped byte", func(b []byte) []byte { b[len(b)/2] ^= 1; return b }},
		{"truncated", func(b []byte) []byte { return b[:len(b)-100] }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bad := tt.mut(append([]byte(nil), enc...))
			r, err := kr.Decrypt(bytes.NewReader(bad), "x", nil)
			if err == nil {
				_, err = io.ReadAll(r)
			}
			if err == nil {
				t.Fatal("damaged ciphertext decrypted without error")
			}
		})
	}
}

func TestParseRecipient(t *testing.T) {
	k := newKey(t)
	tests := []struct {
		in      string
		wantID  string
		wantErr error
	}{
		{in: k.public, wantID: k.public},
		{in: " " + k.public + "\n", wantID: k.public},
		{in: "awskms://arn:aws:kms:us-east-1:1:key/abc", wantID: "awskms://arn:aws:kms:us-east-1:1:key/abc"},
		{in: "awskms://alias/ark?region=eu-west-1&endpoint=http%3A%2F%2F127.0.0.1%3A1", wantID: "awskms://alias/ark?region=eu-west-1"},
		{in: "gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k", wantID: "gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k"},
		{in: "awskms://alias/", wantErr: errors.New("alias has no name")},
		{in: "s3kms://x", wantErr: ErrUnsupportedScheme},
		{in: "ssh-ed25519 AAAA", wantErr: ErrUnsupportedScheme},
		{in: k.secret, wantErr: ErrUnsupportedScheme},
		{in: "", wantErr: ErrUnsupportedScheme},
		{in: "age1notbech32", wantErr: errors.New("parse")},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseRecipient(tt.in)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatal(err)
			case tt.wantErr == nil && r.ID != tt.wantID:
				t.Fatalf("ID %q, want %q", r.ID, tt.wantID)
			case tt.wantErr != nil && err == nil:
				t.Fatalf("no error for %q", tt.in)
			case errors.Is(tt.wantErr, ErrUnsupportedScheme) && !errors.Is(err, ErrUnsupportedScheme):
				t.Fatalf("got %v, want ErrUnsupportedScheme", err)
			}
			if err != nil && strings.Contains(err.Error(), "AGE-SECRET-KEY-1") && len(tt.in) > 20 {
				t.Errorf("error %q repeats a secret key", err)
			}
		})
	}
}

func TestParseIdentities(t *testing.T) {
	a, b := newKey(t), newKey(t)
	tests := []struct {
		name    string
		in      string
		wantIDs []string
		wantErr bool
	}{
		{name: "age-keygen output", in: "# created: now\n# public key: " + a.public + "\n" + a.secret + "\n", wantIDs: []string{a.public}},
		{name: "two keys for rotation", in: a.secret + "\n\n" + b.secret + "\n", wantIDs: []string{a.public, b.public}},
		{name: "empty", in: "# nothing\n", wantErr: true},
		{name: "a recipient is not an identity", in: a.public + "\n", wantErr: true},
		{name: "garbage line", in: a.secret + "\nnope\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids, err := ParseIdentities([]byte(tt.in))
			if tt.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				if strings.Contains(err.Error(), a.secret) || strings.Contains(err.Error(), a.secret[15:]) {
					t.Errorf("error %q holds key material", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, i := range ids {
				got = append(got, i.ID)
			}
			if strings.Join(got, ",") != strings.Join(tt.wantIDs, ",") {
				t.Fatalf("IDs %v, want %v", got, tt.wantIDs)
			}
		})
	}
}

func TestSniffAndEphemeral(t *testing.T) {
	id, recipient, err := GenerateEphemeral()
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseRecipient(recipient)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := EncryptReaderFor(strings.NewReader("plain log"), r)
	if err != nil {
		t.Fatal(err)
	}
	isAge, rest, err := Sniff(enc)
	if err != nil || !isAge {
		t.Fatalf("Sniff: %v %v", isAge, err)
	}
	dec, err := DecryptWith(rest, id, "log")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(dec)
	if string(got) != "plain log" {
		t.Fatalf("got %q", got)
	}
	for _, plain := range []string{"", "\x1f\x8b gzip", "age-encryption.org/v2\n"} {
		isAge, rest, err := Sniff(strings.NewReader(plain))
		if err != nil || isAge {
			t.Fatalf("Sniff(%q) = %v, %v", plain, isAge, err)
		}
		if got, _ := io.ReadAll(rest); string(got) != plain {
			t.Fatalf("Sniff lost bytes: %q", got)
		}
	}
}
