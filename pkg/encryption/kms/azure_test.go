package kms

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/heptio/ark/pkg/encryption/kms/azurekv"
)

// fakeKeyVault serves Key Vault's wrapkey and unwrapkey REST operations
// (POST /keys/{name}/{version}/wrapkey?api-version=...) with real RSA keys and
// RSA-OAEP-256, behind the 401 bearer challenge the SDK answers: a request
// without the expected token gets 401 and a WWW-Authenticate header naming the
// Key Vault scope.
type fakeKeyVault struct {
	token string
	mu    sync.Mutex
	// keys holds each key's versions, the current one last.
	keys     map[string][]fakeKeyVersion
	requests int
}

type fakeKeyVersion struct {
	version string
	key     *rsa.PrivateKey
}

// rotate adds a new current version to name (creating the key) and returns it.
func (f *fakeKeyVault) rotate(t *testing.T, name string) string {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	v := fmt.Sprintf("%032x", len(f.keys[name])+1)
	f.keys[name] = append(f.keys[name], fakeKeyVersion{version: v, key: key})
	return v
}

func kvError(w http.ResponseWriter, code int, errCode, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": errCode, "message": msg}})
}

func (f *fakeKeyVault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests++
	f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		w.Header().Set("WWW-Authenticate", `Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", resource="https://vault.azure.net"`)
		kvError(w, http.StatusUnauthorized, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.")
		return
	}
	if r.Method != http.MethodPost || r.URL.Query().Get("api-version") == "" {
		kvError(w, http.StatusBadRequest, "BadParameter", "want POST with api-version")
		return
	}
	// /keys/{name}/{version}/{op}; an empty version ("//") is the current one.
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if len(parts) == 3 {
		parts = []string{parts[0], parts[1], "", parts[2]}
	}
	if len(parts) != 4 || parts[0] != "keys" || (parts[3] != "wrapkey" && parts[3] != "unwrapkey") {
		kvError(w, http.StatusNotFound, "NotFound", "no such operation "+r.URL.Path)
		return
	}
	name, version, op := parts[1], parts[2], parts[3]
	var body struct {
		Alg   string `json:"alg"`
		Value string `json:"value"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Alg != "RSA-OAEP-256" {
		kvError(w, http.StatusBadRequest, "BadParameter", "want alg RSA-OAEP-256 and a value")
		return
	}
	value, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(body.Value, "="))
	if err != nil {
		kvError(w, http.StatusBadRequest, "BadParameter", "value is not base64url")
		return
	}
	f.mu.Lock()
	versions := f.keys[name]
	f.mu.Unlock()
	var kv *fakeKeyVersion
	for i := range versions {
		if versions[i].version == version || (version == "" && i == len(versions)-1) {
			kv = &versions[i]
		}
	}
	if kv == nil {
		kvError(w, http.StatusNotFound, "KeyNotFound", fmt.Sprintf("A key with (name/id) %s (version %s) was not found in this key vault.", name, version))
		return
	}
	var out []byte
	if op == "wrapkey" {
		out, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, &kv.key.PublicKey, value, nil)
	} else {
		out, err = rsa.DecryptOAEP(sha256.New(), rand.Reader, kv.key, value, nil)
	}
	if err != nil {
		kvError(w, http.StatusBadRequest, "BadParameter", "Bad Request: "+op+" failed")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{
		"kid":   fmt.Sprintf("https://%s/keys/%s/%s", r.Host, name, kv.version),
		"value": base64.RawURLEncoding.EncodeToString(out),
	})
}

// fakeCredential is an Azure AD credential that hands out one token and
// records the scopes asked for.
type fakeCredential struct {
	token  string
	mu     sync.Mutex
	scopes []string
}

func (c *fakeCredential) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scopes = append(c.scopes, o.Scopes...)
	return azcore.AccessToken{Token: c.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// TestAzureKeyVault runs the suite with the real azkeys client against
// fakeKeyVault, an httptest TLS server on loopback whose certificate the
// client trusts: no cloud access.
func TestAzureKeyVault(t *testing.T) {
	f := &fakeKeyVault{token: "test-token", keys: map[string][]fakeKeyVersion{}}
	srv := httptest.NewUnstartedServer(f)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted-certificate case's handshake errors
	srv.StartTLS()
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "https://")
	v1 := f.rotate(t, "a")
	f.rotate(t, "b")
	cred := &fakeCredential{token: "test-token"}
	opts := Options{Azure: azurekv.Options{Credential: cred, Transport: srv.Client(), DisableChallengeResourceVerification: true}}
	open := func(t *testing.T, uri string) *Key {
		t.Helper()
		k, err := OpenWith(context.Background(), uri, opts)
		if err != nil {
			t.Fatalf("Open(%s): %v", uri, err)
		}
		return k
	}
	uri := func(rest string) string { return "azurekeyvault://" + host + "/keys/" + rest }

	t.Run("suite", func(t *testing.T) {
		runSuite(t, cloud{
			a: func(t *testing.T) *Key { return open(t, uri("a")) },
			b: func(t *testing.T) *Key { return open(t, uri("b")) },
			down: func(t *testing.T) *Key {
				// The vault's host is the key's name: the same URI, through a
				// transport whose every connection goes to a closed port.
				closed := closedPort(t)
				o := opts
				o.Azure.Transport = &http.Client{Transport: &http.Transport{
					DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
						return (&net.Dialer{}).DialContext(ctx, network, closed)
					},
				}}
				k, err := OpenWith(context.Background(), uri("a"), o)
				if err != nil {
					t.Fatal(err)
				}
				return k
			},
		})
	})
	if !slices.Contains(cred.scopes, "https://vault.azure.net/.default") {
		t.Errorf("token scopes %v, want the challenge's https://vault.azure.net/.default", cred.scopes)
	}

	t.Run("ID", func(t *testing.T) {
		for _, rest := range []string{"a", "a/" + v1} {
			if got, want := open(t, uri(rest)).ID(), "azurekeyvault://"+host+"/keys/"+rest; got != want {
				t.Errorf("ID = %q, want %q", got, want)
			}
		}
	})

	t.Run("rotation: a new current version, old files still open", func(t *testing.T) {
		r1 := f.rotate(t, "r")
		k := open(t, uri("r"))
		old := must(encrypt(t, k.Recipient()))
		r2 := f.rotate(t, "r")
		cur := must(encrypt(t, k.Recipient()))
		for name, ct := range map[string][]byte{"old": old, "new": cur} {
			if got, err := decrypt(ct, k.Identity()); err != nil || got != secret {
				t.Errorf("%s file after rotation: %q, %v", name, got, err)
			}
		}
		// A URI pinned to a version owns only that version's stanzas.
		if got, err := decrypt(old, open(t, uri("r/"+r1)).Identity()); err != nil || got != secret {
			t.Errorf("old file with %s: %q, %v", r1, got, err)
		}
		_, err := decrypt(old, open(t, uri("r/"+r2)).Identity())
		t.Logf("error: %v", err)
		if !errorsIsIncorrect(err) || !strings.Contains(err.Error(), "/keys/r/"+r1) {
			t.Errorf("old file with version %s: %v; want ErrIncorrectIdentity naming version %s", r2, err, r1)
		}
	})

	t.Run("key that does not exist", func(t *testing.T) {
		_, err := encrypt(t, open(t, uri("missing")).Recipient())
		t.Logf("error: %v", err)
		if err == nil || !strings.Contains(err.Error(), "/keys/missing") || !strings.Contains(err.Error(), "KeyNotFound") {
			t.Errorf("error %v does not name the key and say it is not found", err)
		}
	})

	t.Run("token refused", func(t *testing.T) {
		o := opts
		o.Azure.Credential = &fakeCredential{token: "stolen-token-not-accepted"}
		k, err := OpenWith(context.Background(), uri("a"), o)
		if err != nil {
			t.Fatal(err)
		}
		_, err = encrypt(t, k.Recipient())
		t.Logf("error: %v", err)
		if err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "stolen-token") {
			t.Errorf("refused token: %v; want HTTP 401 without the token", err)
		}
	})

	t.Run("untrusted certificate", func(t *testing.T) {
		o := opts
		o.Azure.Transport = nil // the system roots: the test server's certificate is not among them
		k, err := OpenWith(context.Background(), uri("a"), o)
		if err != nil {
			t.Fatal(err)
		}
		_, err = encrypt(t, k.Recipient())
		t.Logf("error: %v", err)
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("untrusted certificate: %v", err)
		}
	})
}
