package kms

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"hash/crc32"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"filippo.io/age"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/heptio/ark/pkg/encryption/kms/gcpkms"
)

// fakeCloudKMS is a Cloud KMS gRPC server (kmspb's KeyManagementService,
// Encrypt and Decrypt) with real AES-256-GCM keys, one AEAD per key version;
// Encrypt uses the newest version, as Cloud KMS uses the primary one. It
// checks and answers the CRC32C fields as Cloud KMS does.
type fakeCloudKMS struct {
	kmspb.UnimplementedKeyManagementServiceServer
	mu   sync.Mutex
	keys map[string][]cipher.AEAD
}

func newAEAD(t *testing.T) cipher.AEAD {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return aead
}

// rotate adds a version to name (creating the key) and makes it primary.
func (f *fakeCloudKMS) rotate(t *testing.T, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys[name] = append(f.keys[name], newAEAD(t))
}

func crc(b []byte) int64 { return int64(crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))) }

func checkCRC(field string, b []byte, sum *wrapperspb.Int64Value) error {
	if sum != nil && sum.GetValue() != crc(b) {
		return status.Errorf(codes.InvalidArgument, "%s: checksum mismatch", field)
	}
	return nil
}

func (f *fakeCloudKMS) Encrypt(_ context.Context, req *kmspb.EncryptRequest) (*kmspb.EncryptResponse, error) {
	f.mu.Lock()
	versions := f.keys[req.GetName()]
	f.mu.Unlock()
	if len(versions) == 0 {
		return nil, status.Errorf(codes.NotFound, "CryptoKey %s not found.", req.GetName())
	}
	if err := checkCRC("plaintext", req.GetPlaintext(), req.GetPlaintextCrc32C()); err != nil {
		return nil, err
	}
	if err := checkCRC("aad", req.GetAdditionalAuthenticatedData(), req.GetAdditionalAuthenticatedDataCrc32C()); err != nil {
		return nil, err
	}
	v := len(versions)
	nonce := make([]byte, 12)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	ct := append([]byte{byte(v)}, nonce...)
	ct = versions[v-1].Seal(ct, nonce, req.GetPlaintext(), req.GetAdditionalAuthenticatedData())
	return &kmspb.EncryptResponse{
		Name:                    fmt.Sprintf("%s/cryptoKeyVersions/%d", req.GetName(), v),
		Ciphertext:              ct,
		CiphertextCrc32C:        wrapperspb.Int64(crc(ct)),
		VerifiedPlaintextCrc32C: req.GetPlaintextCrc32C() != nil,
		VerifiedAdditionalAuthenticatedDataCrc32C: req.GetAdditionalAuthenticatedDataCrc32C() != nil,
	}, nil
}

func (f *fakeCloudKMS) Decrypt(_ context.Context, req *kmspb.DecryptRequest) (*kmspb.DecryptResponse, error) {
	f.mu.Lock()
	versions := f.keys[req.GetName()]
	f.mu.Unlock()
	if len(versions) == 0 {
		return nil, status.Errorf(codes.NotFound, "CryptoKey %s not found.", req.GetName())
	}
	if err := checkCRC("ciphertext", req.GetCiphertext(), req.GetCiphertextCrc32C()); err != nil {
		return nil, err
	}
	ct := req.GetCiphertext()
	if len(ct) < 13 || int(ct[0]) < 1 || int(ct[0]) > len(versions) {
		return nil, status.Error(codes.InvalidArgument, "Decryption failed: the ciphertext is invalid.")
	}
	pt, err := versions[ct[0]-1].Open(nil, ct[1:13], ct[13:], req.GetAdditionalAuthenticatedData())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, "Decryption failed: the ciphertext is invalid.")
	}
	return &kmspb.DecryptResponse{Plaintext: pt, PlaintextCrc32C: wrapperspb.Int64(crc(pt))}, nil
}

// startFakeCloudKMS serves a fakeCloudKMS on loopback for the test and returns
// it and its http:// endpoint.
func startFakeCloudKMS(t *testing.T) (*fakeCloudKMS, string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeCloudKMS{keys: map[string][]cipher.AEAD{}}
	srv := grpc.NewServer()
	kmspb.RegisterKeyManagementServiceServer(srv, f)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return f, "http://" + l.Addr().String()
}

// TestGCPKMS runs the suite with the real Cloud KMS Go client (gRPC) against
// fakeCloudKMS in this process, on loopback: no cloud access.
func TestGCPKMS(t *testing.T) {
	f, endpoint := startFakeCloudKMS(t)
	const ring = "projects/ark-test/locations/europe-west1/keyRings/ark"
	f.rotate(t, ring+"/cryptoKeys/a")
	f.rotate(t, ring+"/cryptoKeys/b")
	uri := func(key, endpoint string) string {
		return "gcpkms://" + ring + "/cryptoKeys/" + key + "?endpoint=" + endpoint
	}

	t.Run("suite", func(t *testing.T) {
		runSuite(t, cloud{
			a:    func(t *testing.T) *Key { return openT(t, uri("a", endpoint)) },
			b:    func(t *testing.T) *Key { return openT(t, uri("b", endpoint)) },
			down: func(t *testing.T) *Key { return openT(t, uri("a", "http://"+closedPort(t))) },
		})
	})

	t.Run("ID", func(t *testing.T) {
		if got, want := openT(t, uri("a", endpoint)).ID(), "gcpkms://"+ring+"/cryptoKeys/a"; got != want {
			t.Errorf("ID = %q, want %q", got, want)
		}
	})

	t.Run("rotation: a new primary version, old files still open", func(t *testing.T) {
		f.rotate(t, ring+"/cryptoKeys/r")
		k := openT(t, uri("r", endpoint))
		old, err := encrypt(t, k.Recipient())
		if err != nil {
			t.Fatal(err)
		}
		f.rotate(t, ring+"/cryptoKeys/r")
		for name, ct := range map[string][]byte{"old": old, "new": must(encrypt(t, k.Recipient()))} {
			if got, err := decrypt(ct, k.Identity()); err != nil || got != secret {
				t.Errorf("%s file after rotation: %q, %v", name, got, err)
			}
		}
	})

	t.Run("key that does not exist", func(t *testing.T) {
		_, err := encrypt(t, openT(t, uri("missing", endpoint)).Recipient())
		t.Logf("error: %v", err)
		if err == nil || !strings.Contains(err.Error(), "gcpkms://"+ring+"/cryptoKeys/missing") || !strings.Contains(err.Error(), "NotFound") {
			t.Errorf("error %v does not name the key and say it is not found", err)
		}
	})

	t.Run("https endpoint: TLS", func(t *testing.T) {
		// A private endpoint: the client speaks TLS (here trusting the test
		// server's certificate) instead of plaintext.
		cert := httptest.NewUnstartedServer(nil)
		cert.StartTLS()
		cert.Close()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		tlsSrv := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: cert.TLS.Certificates})))
		kmspb.RegisterKeyManagementServiceServer(tlsSrv, f)
		go func() { _ = tlsSrv.Serve(l) }()
		t.Cleanup(tlsSrv.Stop)
		pool := x509.NewCertPool()
		pool.AddCert(cert.Certificate())
		k, err := OpenWith(context.Background(), uri("a", "https://"+l.Addr().String()), Options{GCP: gcpkms.Options{ClientOptions: []option.ClientOption{
			option.WithoutAuthentication(), option.WithGRPCDialOption(grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, ""))),
		}}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { k.Close() })
		ct := must(encrypt(t, k.Recipient()))
		if got, err := decrypt(ct, openT(t, uri("a", endpoint)).Identity()); err != nil || got != secret {
			t.Errorf("decrypt over plaintext of what TLS wrapped: %q, %v", got, err)
		}
	})

	t.Run("tampered stanza body", func(t *testing.T) {
		k := openT(t, uri("a", endpoint))
		s, err := k.Recipient().Wrap(make([]byte, 16))
		if err != nil {
			t.Fatal(err)
		}
		s[0].Body[len(s[0].Body)-1] ^= 1
		_, err = k.Identity().Unwrap(s)
		t.Logf("error: %v", err)
		if err == nil || errorsIsIncorrect(err) || !strings.Contains(err.Error(), k.ID()) {
			t.Errorf("tampered body: %v; want a clear error naming the key", err)
		}
	})
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func errorsIsIncorrect(err error) bool { return errors.Is(err, age.ErrIncorrectIdentity) }
