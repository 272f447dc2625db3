// Package kms wraps age file keys with a cloud KMS key (envelope encryption):
// a Key is an age.Recipient (Wrap: the file key is encrypted by the KMS, in one
// stanza of the file's header) and an age.Identity (Unwrap: the KMS decrypts
// its own stanza), so a backup can be encrypted to a KMS key and to age X25519
// recipients at once, and any one of them decrypts it. The data itself never
// goes to the KMS: only age's 16-byte file key, once per file.
//
// URIs (Open), one package per cloud (each with its own SDK and rules):
//
//	awskms://<key id | key ARN | alias/NAME>[?region=R][&endpoint=URL]           (awskms)
//	gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K[?endpoint=URL]       (gcpkms)
//	azurekeyvault://<vault host>/keys/<name>[/<version>]                         (azurekv)
//
// Credentials are those the object stores use: the AWS SDK's default chain,
// Google's Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS),
// azidentity's default chain after the file AZURE_CREDENTIALS_FILE names
// (pkg/cloudprovider/azure.DefaultCredential). A URI never holds a secret.
//
// Errors name the key by its ID; what the SDKs say passes through pkg/redact
// (an ID holds no secret, but its ?region= would not survive redact.Text).
//
// Key rotation: every stanza records which key (and, for AWS, which ARN; for Azure, which key
// version) wrapped it, so old backups stay readable while the old key is kept:
// AWS and GCP rotate key material behind one key id, Azure's Unwrap names the
// version the stanza records.
package kms

import (
	"context"
	"fmt"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/heptio/ark/pkg/encryption/kms/awskms"
	"github.com/heptio/ark/pkg/encryption/kms/azurekv"
	"github.com/heptio/ark/pkg/encryption/kms/gcpkms"
	"github.com/heptio/ark/pkg/redact"
)

// provider is one cloud's package, as Open, ParseURI and StanzaKeyID use it.
type provider struct {
	scheme      string
	parse       func(uri string) (id string, err error)
	open        func(ctx context.Context, uri string, o Options) (backend, error)
	stanzaKeyID func(*age.Stanza) (string, bool)
}

var providers = []provider{
	{
		scheme: awskms.Scheme,
		parse:  func(uri string) (string, error) { u, err := awskms.ParseURI(uri); return u.ID(), err },
		open: func(ctx context.Context, uri string, o Options) (backend, error) {
			return awskms.Open(ctx, uri, o.AWS)
		},
		stanzaKeyID: awskms.StanzaKeyID,
	},
	{
		scheme: gcpkms.Scheme,
		parse:  func(uri string) (string, error) { u, err := gcpkms.ParseURI(uri); return u.ID(), err },
		open: func(ctx context.Context, uri string, o Options) (backend, error) {
			return gcpkms.Open(ctx, uri, o.GCP)
		},
		stanzaKeyID: gcpkms.StanzaKeyID,
	},
	{
		scheme: azurekv.Scheme,
		parse:  func(uri string) (string, error) { u, err := azurekv.ParseURI(uri); return u.ID(), err },
		open: func(ctx context.Context, uri string, o Options) (backend, error) {
			return azurekv.Open(ctx, uri, o.Azure)
		},
		stanzaKeyID: azurekv.StanzaKeyID,
	},
}

// Schemes are the URI schemes Open takes.
var Schemes = func() []string {
	var out []string
	for _, p := range providers {
		out = append(out, p.scheme)
	}
	return out
}()

// providerOf returns the provider of uri's scheme, or a clear error.
func providerOf(uri string) (provider, error) {
	scheme, _, ok := strings.Cut(uri, "://")
	if !ok {
		return provider{}, fmt.Errorf("kms: %q is not a KMS key URI (want %s://...)", redact.URL(uri), strings.Join(Schemes, ":// or "))
	}
	for _, p := range providers {
		if p.scheme == scheme {
			return p, nil
		}
	}
	return provider{}, fmt.Errorf("kms: unknown scheme %q in %q (want %s)", scheme, redact.URL(uri), strings.Join(Schemes, ", "))
}

// DefaultTimeout bounds one KMS call made through Recipient or Identity, whose
// age interfaces carry no context.
const DefaultTimeout = time.Minute

// Options overrides what Open takes from the environment, per cloud (tests,
// private endpoints).
type Options struct {
	AWS   awskms.Options
	GCP   gcpkms.Options
	Azure azurekv.Options
	// Timeout of one call through Recipient or Identity; 0 is DefaultTimeout.
	Timeout time.Duration
}

// backend is one cloud's key (awskms.Key, ...).
type backend interface {
	ID() string
	Wrap(ctx context.Context, fileKey []byte) (*age.Stanza, error)
	Owns(s *age.Stanza) bool
	Unwrap(ctx context.Context, s *age.Stanza) ([]byte, error)
	Close() error
}

// Key is a KMS key opened from a URI.
type Key struct {
	b       backend
	timeout time.Duration
}

// IsURI reports whether s has one of the schemes Open takes, so that a list of
// recipients can tell a KMS URI from an age key (age1...).
func IsURI(s string) bool {
	_, err := providerOf(s)
	return err == nil
}

// ParseURI checks uri as Open does, without building a client or looking for
// credentials, and returns the ID of its key (for validating a Config). An
// AWS URI's region may still be missing: Open takes it from the environment.
func ParseURI(uri string) (id string, err error) {
	p, err := providerOf(uri)
	if err != nil {
		return "", err
	}
	if id, err = p.parse(uri); err != nil {
		return "", fmt.Errorf("kms: %w", redact.Error(err))
	}
	return id, nil
}

// Open parses uri and builds the client of its cloud with the credentials of
// the environment. It makes no call to the KMS: a key that does not exist or
// may not be used fails at the first Wrap or Unwrap, with its ID in the error.
func Open(ctx context.Context, uri string) (*Key, error) {
	return OpenWith(ctx, uri, Options{})
}

// OpenWith is Open with overrides.
func OpenWith(ctx context.Context, uri string, o Options) (*Key, error) {
	p, err := providerOf(uri)
	if err != nil {
		return nil, err
	}
	b, err := p.open(ctx, uri, o)
	if err != nil {
		return nil, fmt.Errorf("kms: %w", redact.Error(err))
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Key{b: b, timeout: timeout}, nil
}

// ID names the key: its URI without endpoint or credentials, e.g.
// "awskms://alias/ark?region=eu-west-1". It is what a backup records.
func (k *Key) ID() string { return k.b.ID() }

// Close releases the key's client.
func (k *Key) Close() error { return k.b.Close() }

// Recipient returns the key as an age.Recipient; each Wrap is one KMS call
// bounded by the key's timeout.
func (k *Key) Recipient() age.Recipient { return k.RecipientContext(context.Background()) }

// RecipientContext is Recipient whose KMS calls also end with ctx.
func (k *Key) RecipientContext(ctx context.Context) age.Recipient { return recipient{k, ctx} }

// Identity returns the key as an age.Identity; each Unwrap makes one KMS call
// per stanza of this key (one, for files this package wrote), bounded by the
// key's timeout.
func (k *Key) Identity() age.Identity { return k.IdentityContext(context.Background()) }

// IdentityContext is Identity whose KMS calls also end with ctx.
func (k *Key) IdentityContext(ctx context.Context) age.Identity { return identity{k, ctx} }

type recipient struct {
	k   *Key
	ctx context.Context
}

// Wrap returns one stanza holding fileKey encrypted by the KMS.
func (r recipient) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	ctx, cancel := context.WithTimeout(r.ctx, r.k.timeout)
	defer cancel()
	s, err := r.k.b.Wrap(ctx, fileKey)
	if err != nil {
		return nil, fmt.Errorf("kms: key %s: wrapping the file key: %w", r.k.ID(), redact.Error(err))
	}
	return []*age.Stanza{s}, nil
}

type identity struct {
	k   *Key
	ctx context.Context
}

// Unwrap returns the file key from the first stanza of this key. Stanzas of
// other keys are skipped; when none is this key's, the error wraps
// age.ErrIncorrectIdentity (so age.Decrypt tries its other identities) and
// names this key and the KMS keys the file was wrapped for. A KMS that fails or
// refuses is an error of its own (age.Decrypt stops there: age tries its X25519
// identities before this one, so a file also encrypted to one of those is
// decrypted without asking the KMS).
func (id identity) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	var others []string
	for _, s := range stanzas {
		if !id.k.b.Owns(s) {
			if other, ok := StanzaKeyID(s); ok {
				others = append(others, other)
			}
			continue
		}
		ctx, cancel := context.WithTimeout(id.ctx, id.k.timeout)
		fileKey, err := id.k.b.Unwrap(ctx, s)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("kms: key %s: unwrapping the file key: %w", id.k.ID(), redact.Error(err))
		}
		if len(fileKey) != fileKeySize {
			return nil, fmt.Errorf("kms: key %s: the KMS unwrapped %d bytes, want a %d-byte age file key", id.k.ID(), len(fileKey), fileKeySize)
		}
		return fileKey, nil
	}
	if len(others) > 0 {
		return nil, fmt.Errorf("%w: the file's key is wrapped for %s, not for %s", age.ErrIncorrectIdentity, strings.Join(others, ", "), id.k.ID())
	}
	return nil, fmt.Errorf("%w: the file has no stanza of a KMS key (looked for %s)", age.ErrIncorrectIdentity, id.k.ID())
}

// fileKeySize is the size of age's file key (age v1 format).
const fileKeySize = 16

// StanzaKeyID names the KMS key a stanza of this package was made for, as a
// URI ("awskms://arn:aws:kms:...", "gcpkms://projects/...",
// "azurekeyvault://vault.example/keys/k/VERSION"); ok is false for other
// stanzas (X25519 and the like). For messages such as "encrypted for key X".
func StanzaKeyID(s *age.Stanza) (id string, ok bool) {
	for _, p := range providers {
		if id, ok := p.stanzaKeyID(s); ok {
			return id, true
		}
	}
	return "", false
}
