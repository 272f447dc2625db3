package validation

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
)

// wantErrs checks that errs has exactly one entry per wanted substring, in any order.
func wantErrs(t *testing.T, errs []string, want ...string) {
	t.Helper()
	if len(errs) != len(want) {
		t.Fatalf("got %d errors %q, want %d matching %q", len(errs), errs, len(want), want)
	}
	for _, w := range want {
		found := false
		for _, e := range errs {
			if strings.Contains(e, w) {
				found = true
			}
		}
		if !found {
			t.Errorf("no error contains %q in %q", w, errs)
		}
	}
}

func TestBackupSpec(t *testing.T) {
	tests := []struct {
		name string
		spec arkv1.BackupSpec
		want []string
	}{
		{name: "empty is valid", spec: arkv1.BackupSpec{}},
		{name: "star alone", spec: arkv1.BackupSpec{IncludedNamespaces: []string{"*"}, ExcludedNamespaces: []string{"kube-system"}}},
		{name: "star with others", spec: arkv1.BackupSpec{IncludedNamespaces: []string{"*", "a"}}, want: []string{`"*" must be the only entry`}},
		{name: "star excluded", spec: arkv1.BackupSpec{ExcludedResources: []string{"*"}}, want: []string{`excluded resource: "*" is not allowed`}},
		{name: "conflict", spec: arkv1.BackupSpec{IncludedResources: []string{"pods", "secrets"}, ExcludedResources: []string{"secrets"}}, want: []string{`resource "secrets" is both included and excluded`}},
		{name: "bad namespace", spec: arkv1.BackupSpec{IncludedNamespaces: []string{"Not_OK"}}, want: []string{`"Not_OK" is not a valid namespace name`}},
		{name: "negative ttl", spec: arkv1.BackupSpec{TTL: metav1.Duration{Duration: -time.Hour}}, want: []string{"ttl -1h0m0s is negative"}},
		{
			name: "bad selector",
			spec: arkv1.BackupSpec{LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Sometimes"}}}},
			want: []string{"invalid label selector"},
		},
		{
			name: "hooks",
			spec: arkv1.BackupSpec{Hooks: arkv1.BackupHooks{Resources: []arkv1.BackupResourceHookSpec{{
				Pre:  []arkv1.BackupResourceHook{{}, {Exec: &arkv1.ExecHook{}}},
				Post: []arkv1.BackupResourceHook{{Exec: &arkv1.ExecHook{Command: []string{"sync"}, OnError: "Maybe"}}},
			}}}},
			want: []string{"name is required", "exec is required", "exec.command is empty", `onError "Maybe"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantErrs(t, BackupSpec(&tt.spec, nil), tt.want...) })
	}
}

func TestRestoreSpec(t *testing.T) {
	tests := []struct {
		name string
		spec arkv1.RestoreSpec
		want []string
	}{
		{name: "valid", spec: arkv1.RestoreSpec{BackupName: "b", NamespaceMapping: map[string]string{"abc": "def", "123": "456"}}},
		{name: "no backup", spec: arkv1.RestoreSpec{}, want: []string{"backupName is required"}},
		{name: "two sources one target", spec: arkv1.RestoreSpec{BackupName: "b", NamespaceMapping: map[string]string{"a": "x", "b": "x"}}, want: []string{"a and b both map to x"}},
		{name: "bad target", spec: arkv1.RestoreSpec{BackupName: "b", NamespaceMapping: map[string]string{"a": "X_Y"}}, want: []string{"target is not a valid namespace name"}},
		{name: "conflicting namespaces", spec: arkv1.RestoreSpec{BackupName: "b", IncludedNamespaces: []string{"a"}, ExcludedNamespaces: []string{"a"}}, want: []string{`namespace "a" is both included and excluded`}},
		{name: "update policy", spec: arkv1.RestoreSpec{BackupName: "b", ExistingResourcePolicy: arkv1.ExistingResourcePolicyUpdate}},
		{name: "unknown policy", spec: arkv1.RestoreSpec{BackupName: "b", ExistingResourcePolicy: "overwrite"}, want: []string{`existingResourcePolicy "overwrite" is not one of none, update`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantErrs(t, RestoreSpec(&tt.spec, nil), tt.want...) })
	}
}

func TestSchedule(t *testing.T) {
	tests := []struct {
		name     string
		schedule string
		want     []string
	}{
		{name: "daily at seven", schedule: "0 7 * * *"},
		{name: "descriptor", schedule: "@every 1h"},
		{name: "missing", schedule: "", want: []string{"schedule is required"}},
		{name: "garbage", schedule: "every day", want: []string{`invalid schedule "every day"`}},
		{name: "six fields", schedule: "0 0 7 * * *", want: []string{"invalid schedule"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErrs(t, Schedule(&arkv1.ScheduleSpec{Schedule: tt.schedule}, nil), tt.want...)
		})
	}
}

// testRecipient is an age X25519 recipient (its identity is thrown away).
const testRecipient = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"

func TestConfig(t *testing.T) {
	valid := func() *arkv1.Config {
		return &arkv1.Config{BackupStorageProvider: arkv1.ObjectStorageProviderConfig{
			CloudProviderConfig: arkv1.CloudProviderConfig{Name: "aws"}, Bucket: "ark"}}
	}
	tests := []struct {
		name   string
		mutate func(*arkv1.Config)
		want   []string
	}{
		{name: "valid", mutate: func(*arkv1.Config) {}},
		{name: "unknown provider", mutate: func(c *arkv1.Config) { c.BackupStorageProvider.Name = "dropbox" }, want: []string{`"dropbox" is not one of`}},
		{name: "no provider no bucket", mutate: func(c *arkv1.Config) { c.BackupStorageProvider = arkv1.ObjectStorageProviderConfig{} }, want: []string{"name is required", "bucket is required"}},
		{name: "unknown volume provider", mutate: func(c *arkv1.Config) { c.PersistentVolumeProvider = &arkv1.CloudProviderConfig{Name: "ceph"} }, want: []string{`persistentVolumeProvider.name "ceph"`}},
		{name: "negative period", mutate: func(c *arkv1.Config) { c.GCSyncPeriod.Duration = -time.Second }, want: []string{"gcSyncPeriod -1s is negative"}},
		{name: "encryption", mutate: func(c *arkv1.Config) {
			c.Encryption = &arkv1.EncryptionConfig{Recipients: []string{testRecipient}, IdentitySecret: &arkv1.SecretKeySelector{Name: "ark-keys"}}
		}},
		{name: "decryption only (after turning encryption off)", mutate: func(c *arkv1.Config) {
			c.Encryption = &arkv1.EncryptionConfig{IdentitySecret: &arkv1.SecretKeySelector{Name: "ark-keys", Key: "old.txt"}}
		}},
		{name: "encryption without identities", mutate: func(c *arkv1.Config) {
			c.Encryption = &arkv1.EncryptionConfig{Recipients: []string{testRecipient}}
		}, want: []string{"encryption.identitySecret is required"}},
		{name: "encryption with a KMS key only (it decrypts what it wrapped)", mutate: func(c *arkv1.Config) {
			c.Encryption = &arkv1.EncryptionConfig{Recipients: []string{"awskms://alias/ark?region=eu-west-1"}}
		}},
		{name: "encryption with a KMS key and an age key, no identities", mutate: func(c *arkv1.Config) {
			c.Encryption = &arkv1.EncryptionConfig{Recipients: []string{testRecipient, "gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k"}}
		}},
		{name: "encryption with a bad KMS URI", mutate: func(c *arkv1.Config) {
			c.Encryption = &arkv1.EncryptionConfig{Recipients: []string{"awskms://alias/"}, IdentitySecret: &arkv1.SecretKeySelector{Name: "k"}}
		}, want: []string{"encryption.recipients[0]: encryption recipient: kms:"}},
		{name: "encryption with an unknown key URI", mutate: func(c *arkv1.Config) {
			c.Encryption = &arkv1.EncryptionConfig{Recipients: []string{"vault://x"}, IdentitySecret: &arkv1.SecretKeySelector{Name: "k"}}
		}, want: []string{"encryption.recipients[0]: encryption recipient \"vault://\": unsupported key URI scheme"}},
		{name: "encryption with a bad secret name", mutate: func(c *arkv1.Config) {
			c.Encryption = &arkv1.EncryptionConfig{Recipients: []string{testRecipient}, IdentitySecret: &arkv1.SecretKeySelector{Name: "Keys!"}}
		}, want: []string{"encryption.identitySecret.name"}},
		{name: "empty encryption", mutate: func(c *arkv1.Config) { c.Encryption = &arkv1.EncryptionConfig{} }, want: []string{"encryption needs recipients"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.mutate(c)
			wantErrs(t, Config(c), tt.want...)
		})
	}
}

func TestProtectedNamespaceTargets(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mapping map[string]string
		allow   bool
		want    []string // substrings, one per error
	}{
		{name: "no mapping"},
		{name: "team namespaces", mapping: map[string]string{"team-a": "team-b"}},
		{name: "kube-system", mapping: map[string]string{"team-a": "kube-system"}, want: []string{"team-a:kube-system: kube-system is a namespace of the cluster's own components"}},
		{name: "each protected one", mapping: map[string]string{"a": "kube-public", "b": "kube-node-lease", "c": "heptio-ark"},
			want: []string{"a:kube-public", "b:kube-node-lease", "c:heptio-ark: heptio-ark is the ark server's namespace"}},
		{name: "from a protected source is fine", mapping: map[string]string{"kube-system": "restored-system"}},
		{name: "allowed", mapping: map[string]string{"team-a": "kube-system", "b": "heptio-ark"}, allow: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ProtectedNamespaceTargets(&arkv1.RestoreSpec{NamespaceMapping: tc.mapping, AllowProtectedNamespaceTargets: tc.allow}, "heptio-ark")
			if len(got) != len(tc.want) {
				t.Fatalf("errors %q, want %d", got, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) || !strings.Contains(got[i], "allowProtectedNamespaceTargets") {
					t.Errorf("error %q, want it to say %q and how to allow it", got[i], w)
				}
			}
		})
	}
}
