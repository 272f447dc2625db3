// Package azurekv wraps age file keys with an Azure Key Vault RSA key (WrapKey
// and UnwrapKey of azkeys, RSA-OAEP-256), for pkg/encryption/kms.
//
// URI: azurekeyvault://<vault host>/keys/<name>[/<version>], e.g.
// azurekeyvault://ark-prod.vault.azure.net/keys/backup. Without a version,
// WrapKey uses the key's current version; the stanza records which version
// that was, and UnwrapKey names it, so backups made before a rotation stay
// readable while the old version is enabled. With a version, only that version
// wraps, and only stanzas of that version are this key's. The vault host is the
// endpoint (a private endpoint resolves the same name), so there is no
// ?endpoint=.
//
// Credentials: pkg/cloudprovider/azure.DefaultCredential (azidentity's default
// chain after the file AZURE_CREDENTIALS_FILE names), as the Azure providers
// use it; never in the URI. The Key Vault client answers the vault's 401
// bearer challenge with a token for the scope the challenge names. The identity
// needs the key permissions wrapKey and unwrapKey (access policy), or the role
// Key Vault Crypto User (Azure RBAC); the key is an RSA key (RSA or RSA-HSM).
//
// Stanza: "-> ark-azurekv <vault host>/keys/<name> <version>" with the wrapped
// key as body.
package azurekv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/heptio/ark/pkg/cloudprovider/azure"
)

// Scheme is the URI scheme; StanzaType the age stanza type of this package.
const (
	Scheme     = "azurekeyvault"
	StanzaType = "ark-azurekv"
)

// algorithm is RSA-OAEP with SHA-256, Key Vault's recommended key wrap for RSA keys.
var algorithm = azkeys.EncryptionAlgorithmRSAOAEP256

var (
	// Key Vault's rules for key names (1-127 letters, digits, dashes) and versions.
	namePattern    = regexp.MustCompile(`^[0-9A-Za-z-]{1,127}$`)
	versionPattern = regexp.MustCompile(`^[0-9A-Za-z]{1,64}$`)
)

// URI is a parsed azurekeyvault:// URI.
type URI struct {
	Host, Name, Version string
}

// key is "<host>/keys/<name>", the first argument of this key's stanzas.
func (u URI) key() string { return u.Host + "/keys/" + u.Name }

// ID is the URI itself: it names the key, holds no secret, and is what a
// backup records.
func (u URI) ID() string {
	if u.Version != "" {
		return Scheme + "://" + u.key() + "/" + u.Version
	}
	return Scheme + "://" + u.key()
}

// ParseURI parses s, which must start with azurekeyvault://.
func ParseURI(s string) (URI, error) {
	rest, ok := strings.CutPrefix(s, Scheme+"://")
	if !ok {
		return URI{}, fmt.Errorf("%s: URI must start with %s://", Scheme, Scheme)
	}
	if strings.ContainsAny(rest, "?#@") {
		return URI{}, fmt.Errorf("%s: URI takes no query, fragment or user: want azurekeyvault://<vault host>/keys/<name>[/<version>]", Scheme)
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 3 || len(parts) > 4 || parts[1] != "keys" {
		return URI{}, fmt.Errorf("%s: %q is not <vault host>/keys/<name>[/<version>]", Scheme, rest)
	}
	u := URI{Host: parts[0], Name: parts[2]}
	if h, err := url.Parse("https://" + u.Host); err != nil || h.Host != u.Host || h.Hostname() == "" {
		return URI{}, fmt.Errorf("%s: %q is not a vault host name", Scheme, u.Host)
	}
	if !namePattern.MatchString(u.Name) {
		return URI{}, fmt.Errorf("%s: key name %q is not 1-127 letters, digits and dashes", Scheme, u.Name)
	}
	if len(parts) == 4 {
		if !versionPattern.MatchString(parts[3]) {
			return URI{}, fmt.Errorf("%s: key version %q is not letters and digits", Scheme, parts[3])
		}
		u.Version = parts[3]
	}
	return u, nil
}

// Options overrides what Open takes from the environment (tests).
type Options struct {
	// Credential replaces azure.DefaultCredential.
	Credential azcore.TokenCredential
	// Transport replaces the HTTP client (a test server's, trusting its certificate).
	Transport policy.Transporter
	// DisableChallengeResourceVerification lets a vault that is not under a Key
	// Vault domain (a test server on 127.0.0.1) name the token's scope.
	DisableChallengeResourceVerification bool
}

// Key is a Key Vault key that wraps and unwraps age file keys.
type Key struct {
	uri    URI
	client *azkeys.Client
}

// Open parses uri and builds a Key Vault client for it; it makes no call to
// the vault or to Azure AD.
func Open(_ context.Context, uri string, o Options) (*Key, error) {
	u, err := ParseURI(uri)
	if err != nil {
		return nil, err
	}
	cred := o.Credential
	if cred == nil {
		if cred, err = azure.DefaultCredential(); err != nil {
			return nil, fmt.Errorf("%s: key %s: no Azure AD identity: %w", Scheme, u.ID(), err)
		}
	}
	client, err := azkeys.NewClient("https://"+u.Host, cred, &azkeys.ClientOptions{
		ClientOptions: azcore.ClientOptions{
			Transport: o.Transport,
			// The default waits 4s, 8s, 16s... between tries; a vault that is down
			// should fail a backup within seconds.
			Retry: policy.RetryOptions{MaxRetries: 3, RetryDelay: 200 * time.Millisecond, MaxRetryDelay: 3 * time.Second},
		},
		DisableChallengeResourceVerification: o.DisableChallengeResourceVerification,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: key %s: creating the Key Vault client: %w", Scheme, u.ID(), err)
	}
	return &Key{uri: u, client: client}, nil
}

// ID returns URI.ID.
func (k *Key) ID() string { return k.uri.ID() }

// Close releases nothing: the client holds no connection of its own.
func (k *Key) Close() error { return nil }

// Wrap wraps fileKey with the key (its current version, or the URI's) and
// returns its stanza.
func (k *Key) Wrap(ctx context.Context, fileKey []byte) (*age.Stanza, error) {
	resp, err := k.client.WrapKey(ctx, k.uri.Name, k.uri.Version,
		azkeys.KeyOperationParameters{Algorithm: to.Ptr(algorithm), Value: fileKey}, nil)
	if err != nil {
		return nil, describe(err)
	}
	if resp.KID == nil || len(resp.Result) == 0 {
		return nil, errors.New("Key Vault answered WrapKey without a key id or result")
	}
	version := resp.KID.Version()
	if resp.KID.Name() != k.uri.Name || !versionPattern.MatchString(version) || (k.uri.Version != "" && version != k.uri.Version) {
		return nil, fmt.Errorf("Key Vault wrapped with key %q, not a version of %s", string(*resp.KID), k.ID())
	}
	return &age.Stanza{Type: StanzaType, Args: []string{k.uri.key(), version}, Body: resp.Result}, nil
}

// Owns reports whether s is a stanza of this key (of its version, if the URI
// names one).
func (k *Key) Owns(s *age.Stanza) bool {
	return s.Type == StanzaType && len(s.Args) == 2 && s.Args[0] == k.uri.key() &&
		(k.uri.Version == "" || s.Args[1] == k.uri.Version)
}

// Unwrap unwraps the body of s, a stanza Owns, with the version it records.
func (k *Key) Unwrap(ctx context.Context, s *age.Stanza) ([]byte, error) {
	if !versionPattern.MatchString(s.Args[1]) {
		return nil, fmt.Errorf("the stanza's key version %q is not letters and digits", s.Args[1])
	}
	resp, err := k.client.UnwrapKey(ctx, k.uri.Name, s.Args[1],
		azkeys.KeyOperationParameters{Algorithm: to.Ptr(algorithm), Value: s.Body}, nil)
	if err != nil {
		return nil, fmt.Errorf("version %s: %w", s.Args[1], describe(err))
	}
	return resp.Result, nil
}

// StanzaKeyID names the key version a stanza of this package was made for,
// as an azurekeyvault:// URI; ok is false for other stanzas.
func StanzaKeyID(s *age.Stanza) (id string, ok bool) {
	if s.Type != StanzaType || len(s.Args) != 2 {
		return "", false
	}
	return Scheme + "://" + s.Args[0] + "/" + s.Args[1], true
}

// describe shortens an SDK error: azcore.ResponseError's own text spans many
// lines with the request; its status and Key Vault's error code say enough
// ("HTTP 404 KeyNotFound", "HTTP 403 Forbidden").
func describe(err error) error {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		text := http.StatusText(re.StatusCode)
		return fmt.Errorf("Key Vault: HTTP %d %s: %s", re.StatusCode, text, re.ErrorCode)
	}
	return fmt.Errorf("Key Vault: %w", err)
}
