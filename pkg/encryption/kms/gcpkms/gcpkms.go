// Package gcpkms wraps age file keys with a Google Cloud KMS key (Encrypt and
// Decrypt of cloud.google.com/go/kms over gRPC), for pkg/encryption/kms.
//
// URI: gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K[?endpoint=URL].
// Encrypt uses the key's primary version; Decrypt finds the version in the
// ciphertext, so Cloud KMS rotation needs nothing here: old backups stay
// readable while their version is enabled. ?endpoint= points the client at
// another gRPC endpoint: https://HOST[:PORT] (a private endpoint: TLS and the
// credentials below), or http://HOST:PORT (an emulator or test server: no TLS
// and no credentials, as the GCS object store treats an http:// endpoint).
//
// Credentials: Application Default Credentials, as the GCS object store uses
// them (GOOGLE_APPLICATION_CREDENTIALS naming a service-account key file, or
// the metadata server); never in the URI. The service account needs
// cloudkms.cryptoKeyVersions.useToEncrypt and useToDecrypt on the key (the role
// roles/cloudkms.cryptoKeyEncrypterDecrypter).
//
// Stanza: "-> ark-gcpkms <key name>" with the ciphertext as body. Requests and
// answers carry CRC32C checksums, which are checked (Google's advice for
// Cloud KMS clients), and the AAD below is bound to every ciphertext.
package gcpkms

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"net/url"
	"regexp"
	"strings"
	"time"

	kms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"
	"filippo.io/age"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Scheme is the URI scheme; StanzaType the age stanza type of this package.
const (
	Scheme     = "gcpkms"
	StanzaType = "ark-gcpkms"
)

// aad is bound to every wrapped key: Decrypt fails without it, so a ciphertext
// made for another purpose cannot be passed off as an ark file key.
var aad = []byte("ark.heptio.com/purpose=age-file-key")

var keyName = regexp.MustCompile(`^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$`)

// URI is a parsed gcpkms:// URI.
type URI struct {
	// Name is the CryptoKey's resource name, projects/.../cryptoKeys/K.
	Name string
	// Endpoint is ?endpoint= (empty: Cloud KMS).
	Endpoint *url.URL
}

// ID is gcpkms://<key name>: it names the key, holds no secret, and is what a
// backup records.
func (u URI) ID() string { return Scheme + "://" + u.Name }

// ParseURI parses s, which must start with gcpkms://.
func ParseURI(s string) (URI, error) {
	rest, ok := strings.CutPrefix(s, Scheme+"://")
	if !ok {
		return URI{}, fmt.Errorf("%s: URI must start with %s://", Scheme, Scheme)
	}
	name, query, _ := strings.Cut(rest, "?")
	if before, _, ok := strings.Cut(name, "/cryptoKeyVersions/"); ok && keyName.MatchString(before) {
		return URI{}, fmt.Errorf("%s: name the CryptoKey (%s), not one of its versions: Encrypt uses the primary version and Decrypt finds the version itself", Scheme, before)
	}
	if !keyName.MatchString(name) {
		return URI{}, fmt.Errorf("%s: %q is not a CryptoKey name: want gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K", Scheme, name)
	}
	u := URI{Name: name}
	values, err := url.ParseQuery(query)
	if err != nil {
		return URI{}, fmt.Errorf("%s: query of the URI does not parse", Scheme)
	}
	for param, v := range values {
		if len(v) != 1 {
			return URI{}, fmt.Errorf("%s: query parameter %q given %d times", Scheme, param, len(v))
		}
		switch param {
		case "endpoint":
			ep, err := url.Parse(v[0])
			if err != nil || (ep.Scheme != "http" && ep.Scheme != "https") || ep.Host == "" || ep.User != nil || (ep.Path != "" && ep.Path != "/") {
				return URI{}, fmt.Errorf("%s: endpoint is not http(s)://HOST[:PORT]", Scheme)
			}
			u.Endpoint = ep
		default:
			return URI{}, fmt.Errorf("%s: unknown query parameter %q (want endpoint)", Scheme, param)
		}
	}
	return u, nil
}

// Options overrides what Open takes from the environment (tests).
type Options struct {
	// ClientOptions are added to the client's.
	ClientOptions []option.ClientOption
}

// Key is a Cloud KMS CryptoKey that wraps and unwraps age file keys.
type Key struct {
	uri    URI
	client *kms.KeyManagementClient
}

// Open parses uri and builds a Cloud KMS client for it. With credentials
// (https or no endpoint) it finds Application Default Credentials, and fails
// when there are none; it makes no call to Cloud KMS.
func Open(ctx context.Context, uri string, o Options) (*Key, error) {
	u, err := ParseURI(uri)
	if err != nil {
		return nil, err
	}
	var (
		opts []option.ClientOption
		conn *grpc.ClientConn
	)
	if ep := u.Endpoint; ep != nil {
		host := ep.Host
		if ep.Port() == "" {
			host += map[string]string{"http": ":80", "https": ":443"}[ep.Scheme]
		}
		if ep.Scheme == "http" {
			if conn, err = grpc.NewClient(host, grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
				return nil, fmt.Errorf("%s: key %s: endpoint %s: %w", Scheme, u.ID(), host, err)
			}
			opts = append(opts, option.WithGRPCConn(conn), option.WithoutAuthentication())
		} else {
			opts = append(opts, option.WithEndpoint(host))
		}
	}
	client, err := kms.NewKeyManagementClient(ctx, append(opts, o.ClientOptions...)...)
	if err != nil {
		if conn != nil {
			conn.Close()
		}
		return nil, fmt.Errorf("%s: key %s: creating the Cloud KMS client (credentials: GOOGLE_APPLICATION_CREDENTIALS or the metadata server): %w", Scheme, u.ID(), err)
	}
	// The library retries Unavailable until its 60s timeout: a KMS that is down
	// would hold each backup a minute before failing. A few tries, then the error.
	calls := []gax.CallOption{gax.WithRetry(func() gax.Retryer {
		return &boundedRetryer{left: 3, r: gax.OnCodes([]codes.Code{codes.Unavailable, codes.DeadlineExceeded},
			gax.Backoff{Initial: 200 * time.Millisecond, Max: 3 * time.Second, Multiplier: 2})}
	})}
	client.CallOptions.Encrypt, client.CallOptions.Decrypt = calls, calls
	return &Key{uri: u, client: client}, nil
}

// boundedRetryer is r for at most left retries.
type boundedRetryer struct {
	left int
	r    gax.Retryer
}

func (b *boundedRetryer) Retry(err error) (time.Duration, bool) {
	if b.left <= 0 {
		return 0, false
	}
	b.left--
	return b.r.Retry(err)
}

// ID returns URI.ID.
func (k *Key) ID() string { return k.uri.ID() }

// Close closes the client's connections.
func (k *Key) Close() error { return k.client.Close() }

var crc32c = crc32.MakeTable(crc32.Castagnoli)

func checksum(b []byte) *wrapperspb.Int64Value {
	return wrapperspb.Int64(int64(crc32.Checksum(b, crc32c)))
}

// Wrap encrypts fileKey with the key's primary version and returns its stanza.
func (k *Key) Wrap(ctx context.Context, fileKey []byte) (*age.Stanza, error) {
	resp, err := k.client.Encrypt(ctx, &kmspb.EncryptRequest{
		Name:                              k.uri.Name,
		Plaintext:                         fileKey,
		PlaintextCrc32C:                   checksum(fileKey),
		AdditionalAuthenticatedData:       aad,
		AdditionalAuthenticatedDataCrc32C: checksum(aad),
	})
	if err != nil {
		return nil, describe(err)
	}
	switch {
	case !resp.GetVerifiedPlaintextCrc32C() || !resp.GetVerifiedAdditionalAuthenticatedDataCrc32C():
		return nil, errors.New("Cloud KMS did not verify the request's checksums: the request was corrupted in transit")
	case resp.GetCiphertextCrc32C().GetValue() != checksum(resp.GetCiphertext()).GetValue():
		return nil, errors.New("the ciphertext from Cloud KMS does not match its checksum: corrupted in transit")
	case !strings.HasPrefix(resp.GetName(), k.uri.Name+"/cryptoKeyVersions/"):
		return nil, fmt.Errorf("Cloud KMS encrypted with %q, not a version of the key", resp.GetName())
	}
	return &age.Stanza{Type: StanzaType, Args: []string{k.uri.Name}, Body: resp.GetCiphertext()}, nil
}

// Owns reports whether s is a stanza of this key.
func (k *Key) Owns(s *age.Stanza) bool {
	return s.Type == StanzaType && len(s.Args) == 1 && s.Args[0] == k.uri.Name
}

// Unwrap decrypts the body of s, a stanza Owns, with the key.
func (k *Key) Unwrap(ctx context.Context, s *age.Stanza) ([]byte, error) {
	resp, err := k.client.Decrypt(ctx, &kmspb.DecryptRequest{
		Name:                              k.uri.Name,
		Ciphertext:                        s.Body,
		CiphertextCrc32C:                  checksum(s.Body),
		AdditionalAuthenticatedData:       aad,
		AdditionalAuthenticatedDataCrc32C: checksum(aad),
	})
	if err != nil {
		return nil, describe(err)
	}
	if resp.GetPlaintextCrc32C().GetValue() != checksum(resp.GetPlaintext()).GetValue() {
		return nil, errors.New("the plaintext from Cloud KMS does not match its checksum: corrupted in transit")
	}
	return resp.GetPlaintext(), nil
}

// StanzaKeyID names the key a stanza of this package was made for, as a
// gcpkms:// URI; ok is false for other stanzas.
func StanzaKeyID(s *age.Stanza) (id string, ok bool) {
	if s.Type != StanzaType || len(s.Args) != 1 {
		return "", false
	}
	return Scheme + "://" + s.Args[0], true
}

// describe shortens a gRPC error to its code and message ("NotFound: ...").
func describe(err error) error {
	if st, ok := status.FromError(err); ok {
		return fmt.Errorf("Cloud KMS: %s: %s", st.Code(), st.Message())
	}
	return fmt.Errorf("Cloud KMS: %w", err)
}
