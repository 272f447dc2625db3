// Package awskms wraps age file keys with an AWS KMS key (Encrypt/Decrypt of
// aws-sdk-go-v2/service/kms), for pkg/encryption/kms.
//
// URI: awskms://<key>[?region=R][&endpoint=URL], where <key> is a key id
// (1234abcd-...), a key ARN (arn:aws:kms:R:ACCOUNT:key/ID), an alias
// (alias/NAME) or an alias ARN. The region comes from ?region=, else from the
// ARN, else from the SDK's configuration (AWS_REGION, the profile). The endpoint
// comes from ?endpoint= (a private endpoint, or a test server), else from the
// SDK's AWS_ENDPOINT_URL_KMS / AWS_ENDPOINT_URL, else AWS itself.
//
// Credentials: the SDK's default chain, as the S3 object store uses it
// (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the shared files,
// web identity, instance role); never in the URI. The identity needs kms:Encrypt
// (backups) and kms:Decrypt (restores, downloads, verification) on the key.
//
// Stanza: "-> ark-awskms <key as in the URI> <key ARN that Encrypt used>" with
// the KMS ciphertext blob as body. An identity owns a stanza whose first
// argument is its key, or whose ARN is its key (or ends in key/<its key id>), so
// a backup wrapped through an alias stays readable with the key's ARN after the
// alias moves. Decrypt is always called with the identity's own key id and the
// encryption context below, so a stanza cannot make it use another key.
package awskms

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"filippo.io/age"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"
)

// Scheme is the URI scheme; StanzaType the age stanza type of this package.
const (
	Scheme     = "awskms"
	StanzaType = "ark-awskms"
)

// encryptionContext is bound to every wrapped key: AWS KMS refuses to decrypt
// without it, so a ciphertext made for another purpose cannot be passed off as
// an ark file key (and CloudTrail shows what the key was used for).
var encryptionContext = map[string]string{"ark.heptio.com/purpose": "age-file-key"}

// URI is a parsed awskms:// URI.
type URI struct {
	// Key is the key id, key ARN, alias or alias ARN, as written.
	Key string
	// Region is ?region= (empty: from the ARN or the SDK's configuration).
	Region string
	// Endpoint is ?endpoint= (empty: the SDK's).
	Endpoint string
}

// ID is the URI without the endpoint: awskms://<key>[?region=R]. It names the
// key, holds no secret, and is what a backup records.
func (u URI) ID() string {
	if u.Region != "" {
		return Scheme + "://" + u.Key + "?region=" + url.QueryEscape(u.Region)
	}
	return Scheme + "://" + u.Key
}

// ParseURI parses s, which must start with awskms://. Errors name the fault,
// never an endpoint's userinfo.
func ParseURI(s string) (URI, error) {
	rest, ok := strings.CutPrefix(s, Scheme+"://")
	if !ok {
		return URI{}, fmt.Errorf("%s: URI must start with %s://", Scheme, Scheme)
	}
	key, query, _ := strings.Cut(rest, "?")
	u := URI{Key: key}
	if key == "" {
		return URI{}, fmt.Errorf("%s: URI names no key: want awskms://<key id, key ARN or alias/NAME>", Scheme)
	}
	if strings.ContainsAny(key, " \t\r\n#") {
		return URI{}, fmt.Errorf("%s: key %q has a space or '#' in it", Scheme, key)
	}
	switch {
	case strings.HasPrefix(key, "arn:"):
		parts := strings.SplitN(key, ":", 6)
		if len(parts) != 6 || parts[2] != "kms" || parts[3] == "" || parts[4] == "" ||
			!(strings.HasPrefix(parts[5], "key/") || strings.HasPrefix(parts[5], "alias/")) {
			return URI{}, fmt.Errorf("%s: %q is not a KMS key or alias ARN (arn:aws:kms:REGION:ACCOUNT:key/ID or .../alias/NAME)", Scheme, key)
		}
	case strings.HasPrefix(key, "alias/"):
		if len(key) == len("alias/") {
			return URI{}, fmt.Errorf("%s: alias has no name", Scheme)
		}
	case strings.Contains(key, "/") || strings.Contains(key, ":"):
		return URI{}, fmt.Errorf("%s: %q is not a key id, key ARN or alias/NAME", Scheme, key)
	}
	values, err := url.ParseQuery(query)
	if err != nil {
		return URI{}, fmt.Errorf("%s: query of the URI does not parse", Scheme)
	}
	for name, v := range values {
		if len(v) != 1 {
			return URI{}, fmt.Errorf("%s: query parameter %q given %d times", Scheme, name, len(v))
		}
		switch name {
		case "region":
			u.Region = v[0]
		case "endpoint":
			ep, err := url.Parse(v[0])
			if err != nil || (ep.Scheme != "http" && ep.Scheme != "https") || ep.Host == "" {
				return URI{}, fmt.Errorf("%s: endpoint is not an http(s) URL", Scheme)
			}
			u.Endpoint = v[0]
		default:
			return URI{}, fmt.Errorf("%s: unknown query parameter %q (want region, endpoint)", Scheme, name)
		}
	}
	if strings.HasPrefix(key, "arn:") {
		if r := strings.Split(key, ":")[3]; u.Region != "" && u.Region != r {
			return URI{}, fmt.Errorf("%s: region %q differs from the ARN's region %q", Scheme, u.Region, r)
		}
	}
	return u, nil
}

// Options overrides what Open takes from the environment (tests).
type Options struct {
	// Credentials replaces the SDK's default chain; nil keeps it.
	Credentials aws.CredentialsProvider
}

// Key is an AWS KMS key that wraps and unwraps age file keys.
type Key struct {
	uri    URI
	client *kms.Client
}

// Open parses uri and builds a KMS client for it. It makes no call to KMS.
func Open(ctx context.Context, uri string, o Options) (*Key, error) {
	u, err := ParseURI(uri)
	if err != nil {
		return nil, err
	}
	region := u.Region
	if region == "" && strings.HasPrefix(u.Key, "arn:") {
		region = strings.Split(u.Key, ":")[3]
	}
	var loadOpts []func(*awsconfig.LoadOptions) error
	if region != "" {
		loadOpts = append(loadOpts, awsconfig.WithRegion(region))
	}
	if o.Credentials != nil {
		loadOpts = append(loadOpts, awsconfig.WithCredentialsProvider(o.Credentials))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		// The SDK's message names the file or variable at fault, never a secret's value.
		return nil, fmt.Errorf("%s: key %s: loading AWS configuration and credentials: %w", Scheme, u.ID(), err)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("%s: key %s: no region: add ?region= to the URI, use a key ARN, or set AWS_REGION", Scheme, u.ID())
	}
	client := kms.NewFromConfig(cfg, func(ko *kms.Options) {
		if u.Endpoint != "" {
			ko.BaseEndpoint = aws.String(u.Endpoint)
		}
	})
	return &Key{uri: u, client: client}, nil
}

// ID returns URI.ID.
func (k *Key) ID() string { return k.uri.ID() }

// Close releases nothing: the SDK's client holds no connection of its own.
func (k *Key) Close() error { return nil }

// Wrap encrypts fileKey with the key and returns its stanza.
func (k *Key) Wrap(ctx context.Context, fileKey []byte) (*age.Stanza, error) {
	out, err := k.client.Encrypt(ctx, &kms.EncryptInput{
		KeyId:             aws.String(k.uri.Key),
		Plaintext:         fileKey,
		EncryptionContext: encryptionContext,
	})
	if err != nil {
		return nil, describe(err)
	}
	arn := aws.ToString(out.KeyId)
	if arn == "" || strings.ContainsAny(arn, " \r\n") || len(out.CiphertextBlob) == 0 {
		return nil, errors.New("KMS answered Encrypt without a key ARN or ciphertext")
	}
	return &age.Stanza{Type: StanzaType, Args: []string{k.uri.Key, arn}, Body: out.CiphertextBlob}, nil
}

// Owns reports whether s is a stanza of this key (see the package doc).
func (k *Key) Owns(s *age.Stanza) bool {
	if s.Type != StanzaType || len(s.Args) != 2 {
		return false
	}
	return s.Args[0] == k.uri.Key || s.Args[1] == k.uri.Key || strings.HasSuffix(s.Args[1], ":key/"+k.uri.Key)
}

// Unwrap decrypts the body of s, a stanza Owns, with the key.
func (k *Key) Unwrap(ctx context.Context, s *age.Stanza) ([]byte, error) {
	out, err := k.client.Decrypt(ctx, &kms.DecryptInput{
		KeyId:             aws.String(k.uri.Key),
		CiphertextBlob:    s.Body,
		EncryptionContext: encryptionContext,
	})
	if err != nil {
		var apiErr smithy.APIError
		// AWS says IncorrectKeyException when KeyId is not the key that
		// encrypted; local-kms says InvalidCiphertextException.
		if errors.As(err, &apiErr) && s.Args[1] != k.uri.Key &&
			(apiErr.ErrorCode() == "IncorrectKeyException" || apiErr.ErrorCode() == "InvalidCiphertextException") {
			return nil, fmt.Errorf("%w (the file key was wrapped by %s: if %s is an alias that has moved since, add awskms://%s as a key)",
				describe(err), s.Args[1], k.uri.Key, s.Args[1])
		}
		return nil, describe(err)
	}
	return out.Plaintext, nil
}

// StanzaKeyID names the key a stanza of this package was made for, as an
// awskms:// URI of the key ARN; ok is false for other stanzas.
func StanzaKeyID(s *age.Stanza) (id string, ok bool) {
	if s.Type != StanzaType || len(s.Args) != 2 {
		return "", false
	}
	return Scheme + "://" + s.Args[1], true
}

// describe shortens an SDK error to its service error code and message when
// there is one ("NotFoundException: Key ... does not exist"); transport errors
// (connection refused, timeouts) keep the SDK's text.
func describe(err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return fmt.Errorf("AWS KMS: %s: %s", apiErr.ErrorCode(), apiErr.ErrorMessage())
	}
	return fmt.Errorf("AWS KMS: %w", err)
}
