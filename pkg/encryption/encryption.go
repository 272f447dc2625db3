// Package encryption encrypts what the ark server writes to the bucket with age
// (filippo.io/age, https://age-encryption.org/v1): a stream of 64 KiB chunks sealed with
// ChaCha20-Poly1305 under a random file key, which the header wraps once for each recipient.
// The server compresses first and encrypts second (gzip → age), streaming, so memory stays
// flat whatever the size of a backup.
//
// Keys are named by identifiers that hold no secret: an age X25519 recipient ("age1…", the
// public half of an identity) or, for keys held in a cloud KMS, the key's URI. A Backup's
// status records the identifiers it was encrypted for; a server can decrypt it when one of
// its identities has one of those identifiers.
package encryption

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"filippo.io/age"

	"github.com/heptio/ark/pkg/encryption/kms"
)

// ErrUnsupportedScheme is matched (errors.Is) by the error for a recipient that is neither an
// age X25519 recipient nor a key URI of a supported scheme.
var ErrUnsupportedScheme = errors.New("unsupported key URI scheme")

// ErrNoKey is matched (errors.Is) by the error for an object encrypted for keys none of which
// the server holds.
var ErrNoKey = errors.New("no identity available for the keys the data is encrypted for")

// header starts every age file (age-encryption.org/v1, "Header"); Sniff looks for it.
const header = "age-encryption.org/v1\n"

// Recipient is a key data is encrypted for, with its identifier.
type Recipient struct {
	// ID is the age recipient ("age1…") or the KMS key URI.
	ID string
	age.Recipient

	uri string // a KMS key's URI, opened by Keyring.OpenKMS (Recipient is nil until then)
}

// Identity is a key data is decrypted with, with the identifier of its recipient.
type Identity struct {
	// ID is the identifier of the matching Recipient.
	ID string
	age.Identity

	uri string // a KMS key's URI, opened by Keyring.OpenKMS (Identity is nil until then)
}

// ParseRecipient parses a recipient as written in the Config or on `ark install`'s command
// line: an age X25519 recipient ("age1" and 58 bech32 characters). Anything else gives an
// error matching ErrUnsupportedScheme, or a parse error for a malformed "age1…" string.
// A key URI of a cloud KMS (awskms://, gcpkms://, azurekeyvault://; see package kms) is
// checked without credentials; Keyring.OpenKMS opens it before it encrypts.
func ParseRecipient(s string) (Recipient, error) {
	s = strings.TrimSpace(s)
	switch {
	case kms.IsURI(s):
		id, err := kms.ParseURI(s)
		if err != nil {
			return Recipient{}, fmt.Errorf("encryption recipient: %w", err)
		}
		return Recipient{ID: id, uri: s}, nil
	case strings.HasPrefix(s, "age1") && !strings.HasPrefix(s, "age1pq"):
		r, err := age.ParseX25519Recipient(s)
		if err != nil {
			return Recipient{}, fmt.Errorf("encryption recipient %q: %w", s, err)
		}
		return Recipient{ID: r.String(), Recipient: r}, nil
	}
	scheme := s
	if i := strings.Index(s, "://"); i >= 0 {
		scheme = s[:i] + "://"
	} else if len(scheme) > 12 {
		scheme = scheme[:12] + "…"
	}
	return Recipient{}, fmt.Errorf("encryption recipient %q: %w (valid: an age X25519 recipient, age1…, or a KMS key: awskms://, gcpkms://, azurekeyvault://)", scheme, ErrUnsupportedScheme)
}

// ParseRecipients parses each of ss with ParseRecipient; duplicates are dropped.
func ParseRecipients(ss []string) ([]Recipient, error) {
	var out []Recipient
	seen := map[string]bool{}
	for _, s := range ss {
		r, err := ParseRecipient(s)
		if err != nil {
			return nil, err
		}
		if !seen[r.ID] {
			seen[r.ID] = true
			out = append(out, r)
		}
	}
	return out, nil
}

// ParseIdentities parses age X25519 identities, one "AGE-SECRET-KEY-1…" a line, as age-keygen
// writes them: blank lines and lines starting with '#' are skipped. The error for a bad line
// gives its number, never its content (it may be a key).
func ParseIdentities(data []byte) ([]Identity, error) {
	var out []Identity
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if kms.IsURI(line) {
			// A KMS key kept to decrypt older backups after the recipients moved on.
			id, err := kms.ParseURI(line)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
			out = append(out, Identity{ID: id, uri: line})
			continue
		}
		id, err := age.ParseX25519Identity(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: not an age X25519 identity (AGE-SECRET-KEY-1…)", n)
		}
		out = append(out, Identity{ID: id.Recipient().String(), Identity: id})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("no age identity (AGE-SECRET-KEY-1…) found")
	}
	return out, nil
}

// Keyring is the server's keys: the recipients it encrypts for and the identities it
// decrypts with. The zero Keyring (or nil) encrypts nothing and decrypts nothing.
type Keyring struct {
	recipients []Recipient
	identities []Identity
	kms        map[string]*kms.Key // opened KMS keys by ID (OpenKMS)
}

// NewKeyring returns a Keyring that encrypts for recipients and decrypts with identities.
func NewKeyring(recipients []Recipient, identities []Identity) *Keyring {
	return &Keyring{recipients: recipients, identities: identities}
}

// OpenKMS opens the Keyring's KMS keys (kms.Open: the cloud's client with the credentials of
// the environment; no call to the KMS yet). A KMS recipient also decrypts, since the key
// unwraps what it wrapped, so it is added to the identities. Errors name the key by ID.
func (k *Keyring) OpenKMS(ctx context.Context) error {
	if k == nil {
		return nil
	}
	open := func(id, uri string) (*kms.Key, error) {
		if key, ok := k.kms[id]; ok {
			return key, nil
		}
		key, err := kms.Open(ctx, uri)
		if err != nil {
			return nil, fmt.Errorf("opening KMS key %s: %w", id, err)
		}
		if k.kms == nil {
			k.kms = map[string]*kms.Key{}
		}
		k.kms[id] = key
		return key, nil
	}
	for i := range k.recipients {
		r := &k.recipients[i]
		if r.uri == "" || r.Recipient != nil {
			continue
		}
		key, err := open(r.ID, r.uri)
		if err != nil {
			return err
		}
		r.Recipient = key.Recipient()
		if !k.hasIdentity(r.ID) {
			k.identities = append(k.identities, Identity{ID: r.ID, Identity: key.Identity(), uri: r.uri})
		}
	}
	for i := range k.identities {
		id := &k.identities[i]
		if id.uri == "" || id.Identity != nil {
			continue
		}
		key, err := open(id.ID, id.uri)
		if err != nil {
			return err
		}
		id.Identity = key.Identity()
	}
	return nil
}

// Close closes the KMS clients OpenKMS made.
func (k *Keyring) Close() error {
	if k == nil {
		return nil
	}
	var errs []error
	for _, key := range k.kms {
		errs = append(errs, key.Close())
	}
	k.kms = nil
	return errors.Join(errs...)
}

func (k *Keyring) hasIdentity(id string) bool {
	for _, i := range k.identities {
		if i.ID == id {
			return true
		}
	}
	return false
}

// ForKeys returns a Keyring that encrypts for keyIDs (the keys a backup is encrypted for, so
// that what a restore of it writes stays readable by the same keys): age recipients are
// parsed; a KMS key must be one this Keyring opened, else the error names it.
func (k *Keyring) ForKeys(keyIDs []string) (*Keyring, error) {
	var out []Recipient
	for _, id := range keyIDs {
		if k != nil {
			if key, ok := k.kms[id]; ok {
				out = append(out, Recipient{ID: id, Recipient: key.Recipient()})
				continue
			}
		}
		r, err := ParseRecipient(id)
		if err != nil {
			return nil, err
		}
		if r.Recipient == nil {
			return nil, fmt.Errorf("encryption: KMS key %s is not configured on this server (Config encryption.recipients or the identity Secret)", id)
		}
		out = append(out, r)
	}
	return NewKeyring(out, nil), nil
}

// Enabled says whether new data is encrypted (the Keyring has recipients).
func (k *Keyring) Enabled() bool { return k != nil && len(k.recipients) > 0 }

// RecipientIDs returns the identifiers of the keys new data is encrypted for, sorted.
func (k *Keyring) RecipientIDs() []string {
	if k == nil {
		return nil
	}
	ids := make([]string, 0, len(k.recipients))
	for _, r := range k.recipients {
		ids = append(ids, r.ID)
	}
	sort.Strings(ids)
	return ids
}

// IdentityIDs returns the identifiers of the keys the Keyring can decrypt, sorted.
func (k *Keyring) IdentityIDs() []string {
	if k == nil {
		return nil
	}
	ids := make([]string, 0, len(k.identities))
	for _, i := range k.identities {
		ids = append(ids, i.ID)
	}
	sort.Strings(ids)
	return ids
}

// Encrypt returns a writer that encrypts what is written to it for the Keyring's recipients
// into dst; Close it to write the last chunk (it does not close dst).
func (k *Keyring) Encrypt(dst io.Writer) (io.WriteCloser, error) {
	if !k.Enabled() {
		return nil, errors.New("encryption: no recipient configured")
	}
	rs := make([]age.Recipient, 0, len(k.recipients))
	for _, r := range k.recipients {
		if r.Recipient == nil {
			return nil, fmt.Errorf("encryption: KMS key %s is not open (Keyring.OpenKMS)", r.ID)
		}
		rs = append(rs, r.Recipient)
	}
	return age.Encrypt(dst, rs...)
}

// EncryptReader returns a reader of src encrypted for the Keyring's recipients, streamed
// through a pipe; the encryption runs in a goroutine that ends when the reader is read to
// its end or closed.
func (k *Keyring) EncryptReader(src io.Reader) (io.ReadCloser, error) {
	if !k.Enabled() {
		return nil, errors.New("encryption: no recipient configured")
	}
	return encryptReader(src, k.Encrypt)
}

// EncryptReaderFor is EncryptReader for one recipient (a client's ephemeral key).
func EncryptReaderFor(src io.Reader, r Recipient) (io.ReadCloser, error) {
	return NewKeyring([]Recipient{r}, nil).EncryptReader(src)
}

func encryptReader(src io.Reader, encrypt func(io.Writer) (io.WriteCloser, error)) (io.ReadCloser, error) {
	if encrypt == nil {
		return nil, errors.New("encryption: nothing to encrypt with")
	}
	pr, pw := io.Pipe()
	// age writes the header when the writer is made: into the pipe, so in the goroutine.
	go func() {
		w, err := encrypt(pw)
		if err == nil {
			_, err = io.Copy(w, src)
		}
		if err == nil {
			err = w.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr, nil
}

// CanDecrypt returns nil if the Keyring holds an identity for one of keyIDs (the
// identifiers recorded with the data), else an error matching ErrNoKey that names what,
// e.g. `backup "b1"`, and the keys. KMS identities, whose ID is their key URI, match the
// same way.
func (k *Keyring) CanDecrypt(what string, keyIDs []string) error {
	if len(k.matching(keyIDs)) > 0 {
		return nil
	}
	return k.noKey(what, keyIDs)
}

func (k *Keyring) noKey(what string, keyIDs []string) error {
	ids := "(none recorded)"
	if len(keyIDs) > 0 {
		ids = strings.Join(keyIDs, ", ")
	}
	return fmt.Errorf("%w: %s is encrypted for key(s) %s, none of which is available (the server holds identities for: %s)",
		ErrNoKey, what, ids, orNone(k.IdentityIDs()))
}

func orNone(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, ", ")
}

// matching returns the identities whose ID is one of keyIDs; all of them if keyIDs is
// empty (an object whose keys were not recorded: age tries each).
func (k *Keyring) matching(keyIDs []string) []age.Identity {
	if k == nil {
		return nil
	}
	var out []age.Identity
	for _, i := range k.identities {
		if i.Identity != nil && (len(keyIDs) == 0 || contains(keyIDs, i.ID)) {
			out = append(out, i.Identity)
		}
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// Decrypt returns the plaintext of src, an age file, decrypted with the Keyring's identities
// for keyIDs (all of them if keyIDs is empty). what names the data in errors. A file for none
// of the Keyring's keys gives an error matching ErrNoKey; a damaged file an error from age
// (the header at once, a chunk when it is read: age authenticates each chunk, and the last).
func (k *Keyring) Decrypt(src io.Reader, what string, keyIDs []string) (io.Reader, error) {
	ids := k.matching(keyIDs)
	if len(ids) == 0 {
		return nil, k.noKey(what, keyIDs)
	}
	r, err := age.Decrypt(src, ids...)
	var noMatch *age.NoIdentityMatchError
	if errors.As(err, &noMatch) {
		return nil, k.noKey(what, keyIDs)
	}
	if err != nil {
		return nil, fmt.Errorf("decrypting %s: %w", what, err)
	}
	return r, nil
}

// Sniff reads the start of r and says whether it is an age file; the returned reader gives
// all of r's bytes again. Old backups, written before encryption was configured, are plain.
func Sniff(r io.Reader) (bool, io.Reader, error) {
	br := bufio.NewReaderSize(r, 64)
	b, err := br.Peek(len(header))
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		return false, br, err
	}
	return string(b) == header, br, nil
}

// GenerateEphemeral returns a new X25519 identity, for a client that wants a download
// encrypted to itself, and its recipient string.
func GenerateEphemeral() (Identity, string, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return Identity{}, "", err
	}
	return Identity{ID: id.Recipient().String(), Identity: id}, id.Recipient().String(), nil
}

// DecryptWith decrypts src with one identity (a client's ephemeral key).
func DecryptWith(src io.Reader, id Identity, what string) (io.Reader, error) {
	return NewKeyring(nil, []Identity{id}).Decrypt(src, what, nil)
}
