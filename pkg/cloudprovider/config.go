package cloudprovider

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// CommonConfigKeys are keys every provider accepts in Config.backupStorageProvider.config
// without using them itself: "prefix" (a path inside the bucket under which backups live) and
// "layout" (ark or velero) are read by package persistence.
var CommonConfigKeys = []string{"prefix", "layout"}

// CheckConfigKeys returns an ErrInvalidConfig error naming the keys of config that are neither
// in known nor in CommonConfigKeys, so that a misspelt key is reported instead of ignored.
func CheckConfigKeys(provider string, config map[string]string, known ...string) error {
	valid := map[string]bool{}
	for _, k := range append(append([]string{}, known...), CommonConfigKeys...) {
		valid[k] = true
	}
	var unknown []string
	for k := range config {
		if !valid[k] {
			unknown = append(unknown, strconv.Quote(k))
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	sort.Strings(known)
	return ConfigError(provider, "unknown config key(s) %s (valid keys: %s)",
		strings.Join(unknown, ", "), strings.Join(append(known, CommonConfigKeys...), ", "))
}

// ConfigBool parses an optional boolean config value ("" is false).
func ConfigBool(provider string, config map[string]string, key string) (bool, error) {
	v, ok := config[key]
	if !ok || v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, ConfigError(provider, "config key %q: %q is not a boolean", key, v)
	}
	return b, nil
}

// CheckBucket returns an error when bucket is empty.
func CheckBucket(provider, op, bucket string) error {
	if bucket == "" {
		return &Error{Provider: provider, Op: op, Err: ConfigError(provider, "bucket name is empty")}
	}
	return nil
}

// PublicURLKey is the config key of a provider whose download URLs clients
// outside the cluster must reach at another address than the server reaches
// the store at (an in-cluster MinIO behind an ingress, a private endpoint):
// the server signs the URLs it gives `ark backup logs/download` for this base
// URL instead of its own endpoint.
const PublicURLKey = "publicUrl"

// ParsePublicURL checks config's publicUrl: an http(s) URL with a host and no
// query or fragment. It returns nil when the key is unset.
func ParsePublicURL(provider string, config map[string]string) (*url.URL, error) {
	s := config[PublicURLKey]
	if s == "" {
		return nil, nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, ConfigError(provider, "config key %q: %q is not an http(s) URL with a host and without query", PublicURLKey, s)
	}
	return u, nil
}

// RebaseURL returns signed with its scheme and host, and the path prefix
// base, replaced by public's: for a signature that does not cover the host
// (an Azure SAS). signed must start with base.
func RebaseURL(signed, base string, public *url.URL) (string, error) {
	base = strings.TrimSuffix(base, "/") + "/"
	if !strings.HasPrefix(signed, base) {
		return "", fmt.Errorf("the signed URL is not under the endpoint %s", base)
	}
	return strings.TrimSuffix(public.String(), "/") + "/" + strings.TrimPrefix(signed, base), nil
}
