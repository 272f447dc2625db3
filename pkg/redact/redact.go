// Package redact removes secrets from text that leaves the process: error
// messages (logs, status.failureReason, Events), HTTP answers and CLI output.
//
// What it removes, and why:
//   - the query string and fragment of every URL (a pre-signed S3 or GCS URL
//     carries X-Amz-Signature / X-Goog-Signature there, an Azure SAS URL its
//     sig=, the filesystem provider's download URL its signature=), and the
//     userinfo (user:password@) of every URL;
//   - the value of every key=value pair whose key names a credential
//     (AccountKey=, SharedAccessSignature=, sig=, password=, token=, ...), as
//     in an Azure connection string quoted by an SDK error.
//
// A URL keeps its scheme, host and path, so an error still says which object
// failed: "https://acct.blob.core.windows.net/ark/backups/b1/b1.tar.gz?REDACTED".
package redact

import (
	"errors"
	"io"
	"net/url"
	"regexp"
	"strings"
)

// Mark replaces what was removed.
const Mark = "REDACTED"

var (
	// A URL in text: a scheme, "://", then anything up to white space or a
	// character that ends a quoted or bracketed URL in messages.
	urlPattern = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.\-]*://[^\s"'<>\x60]+`)
	// key=value (or key: value in query-like text) whose key names a
	// credential; the value runs to the next separator.
	credentialPattern = regexp.MustCompile(`(?i)\b((?:[a-z0-9_\-]*(?:accountkey|sharedaccesssignature|sig|signature|password|passwd|secret|token|credential|sessiontoken|security-token|apikey|api-key|private_key)))=([^&;\s"'<>,]+)`)
)

// URL returns u without userinfo, query string and fragment; a removed
// query or userinfo is replaced by Mark so that the reader sees something
// was there. Text that does not parse as a URL with a host is returned with
// everything from the first '?' or '#' cut off.
func URL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		if i := strings.IndexAny(u, "?#"); i >= 0 {
			return u[:i] + "?" + Mark
		}
		return u
	}
	changed := false
	if p.User != nil {
		p.User = url.User(Mark)
		changed = true
	}
	if p.RawQuery != "" || p.ForceQuery {
		p.RawQuery = Mark
		p.ForceQuery = false
		changed = true
	}
	if p.Fragment != "" || p.RawFragment != "" {
		p.Fragment, p.RawFragment = "", ""
		changed = true
	}
	if !changed {
		return u
	}
	return p.String()
}

// Text returns s with every URL passed through URL and the value of every
// credential-named key=value pair replaced by Mark.
func Text(s string) string {
	if !strings.Contains(s, "://") && !strings.Contains(s, "=") {
		return s
	}
	s = urlPattern.ReplaceAllStringFunc(s, func(u string) string {
		// A URL quoted in a message often ends with punctuation of the sentence.
		trail := ""
		for len(u) > 0 && strings.ContainsRune(".,;:)]}", rune(u[len(u)-1])) {
			trail = u[len(u)-1:] + trail
			u = u[:len(u)-1]
		}
		return URL(u) + trail
	})
	return credentialPattern.ReplaceAllString(s, "${1}="+Mark)
}

// Error returns err with its message passed through Text (nil for nil). The
// result matches what err matches with errors.Is (ErrNotFound, ErrAccessDenied,
// context.Canceled, ...), so callers keep telling a missing object from a
// refused credential; but it does not unwrap: errors.As cannot reach the
// original errors, whose own Error() still holds the secret.
func Error(err error) error {
	if err == nil {
		return nil
	}
	if r, ok := err.(*redacted); ok {
		return r
	}
	return &redacted{msg: Text(err.Error()), err: err}
}

type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }

// Is reports whether the original error matches target.
func (r *redacted) Is(target error) bool { return errors.Is(r.err, target) }

// Writer returns a writer that passes each Write through Text before
// writing it to w. Each Write must hold whole lines, as the slog handlers
// write one record per call; a URL split over two writes is not recognised.
func Writer(w io.Writer) io.Writer { return writer{w} }

type writer struct{ w io.Writer }

func (w writer) Write(p []byte) (int, error) {
	clean := Text(string(p))
	if _, err := io.WriteString(w.w, clean); err != nil {
		return 0, err
	}
	return len(p), nil
}
