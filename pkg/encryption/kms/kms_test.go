package kms

import (
	"context"
	"strings"
	"testing"

	"filippo.io/age"
)

// TestOpenURIs checks URI parsing through ParseURI and, where that needs no
// credentials from the machine (AWS; GCP with an http:// endpoint), Open: good
// URIs give their ID (without endpoint or credentials), bad ones a clear error.
// Neither makes a call to a KMS, so no server is needed.
func TestOpenURIs(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_PROFILE", "")
	for _, tc := range []struct {
		uri string
		// wantID is the ID of a good URI; wantErr the parts of a bad one's error.
		wantID, wantErr string
		// parseOnly: Open would look for the machine's credentials (Google's
		// ADC probes the metadata server), so only ParseURI is run.
		parseOnly bool
	}{
		{uri: "awskms://1234abcd-12ab-34cd-56ef-1234567890ab?region=eu-west-1", wantID: "awskms://1234abcd-12ab-34cd-56ef-1234567890ab?region=eu-west-1"},
		{uri: "awskms://arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", wantID: "awskms://arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"},
		{uri: "awskms://arn:aws:kms:us-east-2:111122223333:alias/ark", wantID: "awskms://arn:aws:kms:us-east-2:111122223333:alias/ark"},
		{uri: "awskms://alias/ark?region=eu-west-1&endpoint=https%3A%2F%2Fuser%3Apass%40kms.internal%3A8443", wantID: "awskms://alias/ark?region=eu-west-1"},
		{uri: "awskms://alias/ark", wantErr: "no region;awskms://alias/ark;AWS_REGION"},
		{uri: "awskms://?region=eu-west-1", wantErr: "names no key"},
		{uri: "awskms://alias/?region=eu-west-1", wantErr: "alias has no name"},
		{uri: "awskms://foo/bar?region=eu-west-1", wantErr: `"foo/bar" is not a key id`},
		{uri: "awskms://arn:aws:s3:::bucket", wantErr: "not a KMS key or alias ARN"},
		{uri: "awskms://arn:aws:kms:us-east-2:111122223333:key/k?region=eu-west-1", wantErr: `region "eu-west-1" differs from the ARN's region "us-east-2"`},
		{uri: "awskms://alias/ark?region=eu-west-1&regoin=x", wantErr: `unknown query parameter "regoin"`},
		{uri: "awskms://alias/ark?region=a&region=b", wantErr: `"region" given 2 times`},
		{uri: "awskms://alias/ark?region=eu-west-1&endpoint=ftp%3A%2F%2Fx", wantErr: "endpoint is not an http(s) URL"},
		{uri: "awskms://alias/ark?region=eu-west-1&endpoint=http://user:hunter2@[::1", wantErr: "endpoint is not an http(s) URL"},
		{uri: "gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k", wantID: "gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k", parseOnly: true},
		{uri: "gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k?endpoint=https%3A%2F%2Fkms.internal%3A8443", wantID: "gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k", parseOnly: true},
		{uri: "gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k?endpoint=http://127.0.0.1:1", wantID: "gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k"},
		{uri: "gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/3", wantErr: "name the CryptoKey (projects/p/locations/global/keyRings/r/cryptoKeys/k), not one of its versions"},
		{uri: "gcpkms://projects/p/locations/global/keyRings/r", wantErr: "is not a CryptoKey name;gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K"},
		{uri: "gcpkms://projects//locations/global/keyRings/r/cryptoKeys/k", wantErr: "is not a CryptoKey name"},
		{uri: "gcpkms://p/l/r/k", wantErr: "is not a CryptoKey name"},
		{uri: "gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k?endpoint=http%3A%2F%2Fuser%3Ahunter2%40127.0.0.1%3A1", wantErr: "endpoint is not http(s)://HOST[:PORT]"},
		{uri: "gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k?project=p", wantErr: `unknown query parameter "project"`},
		{uri: "azurekeyvault://ark-prod.vault.azure.net/keys/backup", wantID: "azurekeyvault://ark-prod.vault.azure.net/keys/backup", parseOnly: true},
		{uri: "azurekeyvault://ark-prod.vault.azure.net/keys/backup/0123456789abcdef0123456789abcdef", wantID: "azurekeyvault://ark-prod.vault.azure.net/keys/backup/0123456789abcdef0123456789abcdef", parseOnly: true},
		{uri: "azurekeyvault://ark-prod.managedhsm.azure.net:443/keys/backup-2", wantID: "azurekeyvault://ark-prod.managedhsm.azure.net:443/keys/backup-2", parseOnly: true},
		{uri: "azurekeyvault://ark-prod.vault.azure.net/secrets/backup", wantErr: "is not <vault host>/keys/<name>[/<version>]"},
		{uri: "azurekeyvault://ark-prod.vault.azure.net/keys", wantErr: "is not <vault host>/keys/<name>[/<version>]"},
		{uri: "azurekeyvault://ark-prod.vault.azure.net/keys/a/b/c", wantErr: "is not <vault host>/keys/<name>[/<version>]"},
		{uri: "azurekeyvault:///keys/backup", wantErr: "is not a vault host name"},
		{uri: "azurekeyvault://ark-prod.vault.azure.net/keys/back_up", wantErr: `key name "back_up" is not 1-127 letters, digits and dashes`},
		{uri: "azurekeyvault://ark-prod.vault.azure.net/keys/backup/v-1", wantErr: `key version "v-1" is not letters and digits`},
		{uri: "azurekeyvault://ark-prod.vault.azure.net/keys/backup?sig=hunter2", wantErr: "takes no query"},
		{uri: "azurekeyvault://me:hunter2@ark-prod.vault.azure.net/keys/backup", wantErr: "takes no query, fragment or user"},
		{uri: "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq", wantErr: "not a KMS key URI"},
		{uri: "s3kms://key?token=hunter2", wantErr: `unknown scheme "s3kms"`},
	} {
		t.Run(tc.uri, func(t *testing.T) {
			id, err := ParseURI(tc.uri)
			if err == nil && !tc.parseOnly {
				var k *Key
				if k, err = Open(context.Background(), tc.uri); err == nil {
					defer k.Close()
					if k.ID() != id {
						t.Errorf("Open's ID %q differs from ParseURI's %q", k.ID(), id)
					}
				}
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				if id != tc.wantID {
					t.Errorf("ID = %q, want %q", id, tc.wantID)
				}
				if !IsURI(tc.uri) {
					t.Errorf("IsURI(%q) = false", tc.uri)
				}
				return
			}
			if err == nil {
				t.Fatalf("Open succeeded (ID %s), want an error", id)
			}
			t.Logf("error: %v", err)
			for _, part := range strings.Split(tc.wantErr, ";") {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not say %q", err, part)
				}
			}
			for _, secret := range []string{"hunter2", "pass@"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error shows a credential: %v", err)
				}
			}
		})
	}
}

// TestStanzaKeyID checks the names given to the keys of a file's stanzas, as
// an "encrypted for key X" message shows them.
func TestStanzaKeyID(t *testing.T) {
	for _, tc := range []struct {
		stanza age.Stanza
		want   string // "" for not a KMS stanza
	}{
		{age.Stanza{Type: "ark-awskms", Args: []string{"alias/ark", "arn:aws:kms:eu-west-1:111122223333:key/k1"}}, "awskms://arn:aws:kms:eu-west-1:111122223333:key/k1"},
		{age.Stanza{Type: "ark-gcpkms", Args: []string{"projects/p/locations/l/keyRings/r/cryptoKeys/k"}}, "gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k"},
		{age.Stanza{Type: "ark-azurekv", Args: []string{"v.vault.azure.net/keys/k", "0123abcd"}}, "azurekeyvault://v.vault.azure.net/keys/k/0123abcd"},
		{age.Stanza{Type: "X25519", Args: []string{"ephemeral-share"}}, ""},
		{age.Stanza{Type: "ark-awskms", Args: []string{"alias/ark"}}, ""},
		{age.Stanza{Type: "ark-azurekv", Args: []string{"v.vault.azure.net/keys/k"}}, ""},
	} {
		got, ok := StanzaKeyID(&tc.stanza)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("StanzaKeyID(%s %v) = %q, %v; want %q", tc.stanza.Type, tc.stanza.Args, got, ok, tc.want)
		}
	}
	for s, want := range map[string]bool{
		"awskms://alias/ark": true, "gcpkms://projects/p": true, "azurekeyvault://v/keys/k": true,
		"age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq": false, "https://kms.example": false, "awskms:/x": false,
	} {
		if IsURI(s) != want {
			t.Errorf("IsURI(%q) = %v, want %v", s, !want, want)
		}
	}
}
