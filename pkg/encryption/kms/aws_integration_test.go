//go:build integration

package kms

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskmsapi "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/heptio/ark/pkg/test/objectstores"
)

// awsEnv points the AWS SDK's default chain at static test credentials and no
// shared files, as a server's environment would (local-kms checks no signature;
// no call leaves loopback).
func awsEnv(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "test-secret", "AWS_SESSION_TOKEN": "",
		"AWS_CONFIG_FILE": dir + "/config", "AWS_SHARED_CREDENTIALS_FILE": dir + "/credentials",
		"AWS_PROFILE": "", "AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_KMS": "",
	} {
		t.Setenv(k, v)
	}
}

// TestAWSKMS runs the suite with the real AWS SDK against local-kms, an AWS KMS
// emulator speaking KMS's JSON protocol on loopback (pkg/test/objectstores):
// no cloud access.
func TestAWSKMS(t *testing.T) {
	awsEnv(t)
	srv := objectstores.StartT(t, objectstores.KMS)
	ctx := context.Background()
	admin := awskmsapi.New(awskmsapi.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", "")})
	newKey := func() (id, arn string) {
		out, err := admin.CreateKey(ctx, &awskmsapi.CreateKeyInput{})
		if err != nil {
			t.Fatalf("CreateKey: %v", err)
		}
		return *out.KeyMetadata.KeyId, *out.KeyMetadata.Arn
	}
	idA, arnA := newKey()
	idB, arnB := newKey()
	ep := "&endpoint=" + url.QueryEscape(srv.Endpoint)
	uri := func(key string) string { return "awskms://" + key + "?region=us-east-1" + ep }

	t.Run("suite", func(t *testing.T) {
		runSuite(t, cloud{
			a: func(t *testing.T) *Key { return openT(t, uri(idA)) },
			b: func(t *testing.T) *Key { return openT(t, uri(arnB)) },
			down: func(t *testing.T) *Key {
				return openT(t, "awskms://"+idA+"?region=us-east-1&endpoint="+url.QueryEscape("http://ark:hunter2@"+closedPort(t)))
			},
			downSecret: "hunter2",
		})
	})

	t.Run("ID has no endpoint", func(t *testing.T) {
		if got, want := openT(t, uri(idA)).ID(), "awskms://"+idA+"?region=us-east-1"; got != want {
			t.Errorf("ID = %q, want %q", got, want)
		}
		if got, want := openT(t, "awskms://"+arnA+"?endpoint="+url.QueryEscape(srv.Endpoint)).ID(), "awskms://"+arnA; got != want {
			t.Errorf("ID = %q, want %q", got, want)
		}
	})

	t.Run("endpoint from AWS_ENDPOINT_URL_KMS, region from AWS_REGION", func(t *testing.T) {
		t.Setenv("AWS_ENDPOINT_URL_KMS", srv.Endpoint)
		t.Setenv("AWS_REGION", "us-east-1")
		k := openT(t, "awskms://"+idA)
		ct, err := encrypt(t, k.Recipient())
		if err != nil {
			t.Fatal(err)
		}
		if got, err := decrypt(ct, openT(t, uri(arnA)).Identity()); err != nil || got != secret {
			t.Fatalf("the key's ARN does not decrypt what its id wrapped: %q, %v", got, err)
		}
	})

	t.Run("alias, then the alias moves", func(t *testing.T) {
		if _, err := admin.CreateAlias(ctx, &awskmsapi.CreateAliasInput{AliasName: aws.String("alias/ark-test"), TargetKeyId: aws.String(idA)}); err != nil {
			t.Fatalf("CreateAlias: %v", err)
		}
		alias := openT(t, uri("alias/ark-test"))
		ct, err := encrypt(t, alias.Recipient())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(ct, []byte("ark-awskms alias/ark-test "+arnA)) {
			t.Errorf("stanza does not record the alias and the key ARN:\n%s", ct[:min(len(ct), 400)])
		}
		if got, err := decrypt(ct, alias.Identity()); err != nil || got != secret {
			t.Fatalf("alias: %q, %v", got, err)
		}
		if _, err := admin.UpdateAlias(ctx, &awskmsapi.UpdateAliasInput{AliasName: aws.String("alias/ark-test"), TargetKeyId: aws.String(idB)}); err != nil {
			t.Fatalf("UpdateAlias: %v", err)
		}
		// The old key, named by ARN or id, still decrypts what the alias wrapped.
		for _, key := range []string{arnA, idA} {
			if got, err := decrypt(ct, openT(t, uri(key)).Identity()); err != nil || got != secret {
				t.Errorf("%s after the alias moved: %q, %v", key, got, err)
			}
		}
		got, err := decrypt(ct, alias.Identity())
		t.Logf("alias after it moved: %q, %v", got, err)
		if err == nil {
			t.Errorf("the moved alias decrypted a file key wrapped by the old key")
		} else if !strings.Contains(err.Error(), arnA) {
			t.Errorf("error %q does not name the key that wrapped the file, %s", err, arnA)
		}
	})

	t.Run("key that does not exist", func(t *testing.T) {
		_, err := encrypt(t, openT(t, uri("0b5b7f48-0000-4000-8000-000000000000")).Recipient())
		t.Logf("error: %v", err)
		if err == nil || !strings.Contains(err.Error(), "awskms://0b5b7f48-0000-4000-8000-000000000000") || !strings.Contains(err.Error(), "NotFound") {
			t.Errorf("error %v does not name the key and say it is not found", err)
		}
	})

	t.Run("disabled key", func(t *testing.T) {
		idC, _ := newKey()
		c := openT(t, uri(idC))
		ct, err := encrypt(t, c.Recipient())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.DisableKey(ctx, &awskmsapi.DisableKeyInput{KeyId: aws.String(idC)}); err != nil {
			t.Fatal(err)
		}
		got, err := decrypt(ct, c.Identity())
		t.Logf("error: %v", err)
		if err == nil || got != "" || !strings.Contains(err.Error(), idC) || errors.Is(err, age.ErrIncorrectIdentity) {
			t.Errorf("disabled key: %q, %v; want a clear error naming the key", got, err)
		}
	})
}
