//go:build integration

package encryption

import (
	"bytes"
	"context"
	"io"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskmsapi "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/heptio/ark/pkg/test/objectstores"
)

// TestKeyringWithAWSKMS encrypts for an AWS KMS key (local-kms on loopback, through the
// real SDK: no cloud access) and an age key, and decrypts with either.
func TestKeyringWithAWSKMS(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "test-secret",
		"AWS_CONFIG_FILE": dir + "/c", "AWS_SHARED_CREDENTIALS_FILE": dir + "/s", "AWS_EC2_METADATA_DISABLED": "true"} {
		t.Setenv(k, v)
	}
	srv := objectstores.StartT(t, objectstores.KMS)
	admin := awskmsapi.New(awskmsapi.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", "")})
	out, err := admin.CreateKey(context.Background(), &awskmsapi.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	uri := "awskms://" + *out.KeyMetadata.KeyId + "?region=us-east-1&endpoint=" + url.QueryEscape(srv.Endpoint)
	age1 := newKey(t)

	rs, err := ParseRecipients([]string{uri, age1.public})
	if err != nil {
		t.Fatal(err)
	}
	k := NewKeyring(rs, nil)
	if _, err := k.Encrypt(io.Discard); err == nil {
		t.Fatal("a keyring encrypted for a KMS key it had not opened")
	}
	if err := k.OpenKMS(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	plain := []byte("password: hunter2")
	ct := encrypt(t, k, plain)
	kmsID := "awskms://" + *out.KeyMetadata.KeyId + "?region=us-east-1"
	if got := k.IdentityIDs(); len(got) != 1 || got[0] != kmsID {
		t.Fatalf("identities of a keyring with a KMS recipient: %v, want [%s]", got, kmsID)
	}
	ids, err := ParseIdentities([]byte("# old KMS key\n" + uri + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	old := NewKeyring(nil, ids)
	if err := old.OpenKMS(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	again, err := old.ForKeys(k.RecipientIDs())
	if err != nil {
		t.Fatalf("a decrypt-only keyring cannot encrypt for the backup's keys: %v", err)
	}
	if r, err := k.Decrypt(bytes.NewReader(encrypt(t, again, plain)), "restore log", again.RecipientIDs()); err != nil {
		t.Errorf("what a decrypt-only keyring writes for the backup's keys does not decrypt: %v", err)
	} else if got, _ := io.ReadAll(r); !bytes.Equal(got, plain) {
		t.Errorf("decrypted %q", got)
	}
	if _, err := NewKeyring(nil, nil).ForKeys([]string{kmsID}); err == nil {
		t.Error("ForKeys opened a KMS key the server is not configured with")
	}
	for name, kr := range map[string]*Keyring{
		"KMS recipient's own identity": k,
		"KMS URI in the identities":    old,
		"age identity":                 keyring(t, nil, []key{age1}),
	} {
		if err := kr.CanDecrypt("backup b1", k.RecipientIDs()); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		r, err := kr.Decrypt(bytes.NewReader(ct), "backup b1", k.RecipientIDs())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, plain) {
			t.Errorf("%s: %q, %v", name, got, err)
		}
	}
}
