//go:build integration

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/yaml"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/tolerant"
	"github.com/heptio/ark/pkg/validation"
)

// looseCRDs writes the ark CRDs with spec (and template) schemas that accept
// anything, as an older or hand-edited CRD would, into a directory.
func looseCRDs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files, err := filepath.Glob(filepath.Join(repoRoot, "config", "crd", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.Unmarshal(data, crd); err != nil {
			t.Fatal(err)
		}
		yes := true
		for i := range crd.Spec.Versions {
			s := crd.Spec.Versions[i].Schema.OpenAPIV3Schema
			for name := range s.Properties {
				if name == "apiVersion" || name == "kind" || name == "metadata" {
					continue
				}
				s.Properties[name] = apiextensionsv1.JSONSchemaProps{XPreserveUnknownFields: &yes}
			}
			s.Required = nil
			s.XValidations = nil
		}
		out, err := yaml.Marshal(crd)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), out, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// rawObject builds an ark object from JSON, as a user's YAML would give it.
func rawObject(t *testing.T, ns, kind, name, fields string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := json.Unmarshal([]byte(fields), &u.Object); err != nil {
		t.Fatalf("%s: %v", fields, err)
	}
	u.SetAPIVersion(arkv1.SchemeGroupVersion.String())
	u.SetKind(kind)
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

// Objects stored before the CRDs rejected them (a Backup with `ttl: 30d`, a
// Schedule whose template ttl is `2w`, a Restore whose includedNamespaces is
// a string) never stop the server: it syncs, reports each of them, serves
// the good objects, and the CLI lists the good ones and warns of the bad.
func TestFaultBadObjectsStoredBeforeTheCRD(t *testing.T) {
	newFault(t, "bad objects stored before the CRD was tightened (ttl 30d, wrong types)")
	ctx := context.Background()
	realCRDs := filepath.Join(repoRoot, "config", "crd")
	t.Cleanup(func() {
		if err := testCluster.ApplyCRDs(context.Background(), realCRDs); err != nil {
			t.Errorf("restoring the CRDs: %v", err)
		}
	})
	bad := map[string]*unstructured.Unstructured{}
	e := startArk(t, testCluster, envOptions{beforeStart: func(e *arkEnv) {
		if err := testCluster.ApplyCRDs(ctx, looseCRDs(t)); err != nil {
			t.Fatal(err)
		}
		for _, o := range []*unstructured.Unstructured{
			rawObject(t, e.namespace, "Backup", "typo", `{"spec": {"ttl": "30d"}}`),
			rawObject(t, e.namespace, "Backup", "old-good", `{"spec": {"ttl": "1h"}}`),
			rawObject(t, e.namespace, "Schedule", "weekly", `{"spec": {"schedule": "@weekly", "template": {"ttl": "2w"}}}`),
			rawObject(t, e.namespace, "Restore", "strings", `{"spec": {"backupName": "typo", "includedNamespaces": "default"}}`),
		} {
			created, err := testCluster.Dynamic().Resource(tolerant.Resource(o.GetKind())).Namespace(e.namespace).Create(ctx, o, metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("storing %s %s under the loose CRD: %v", o.GetKind(), o.GetName(), err)
			}
			if o.GetName() != "old-good" {
				bad[o.GetKind()+"/"+o.GetName()] = created
			}
		}
		if err := testCluster.ApplyCRDs(ctx, realCRDs); err != nil {
			t.Fatal(err)
		}
		// The tightened CRD refuses the same typo now.
		_, err := testCluster.Dynamic().Resource(tolerant.Resource("Backup")).Namespace(e.namespace).Create(ctx,
			rawObject(t, e.namespace, "Backup", "typo-again", `{"spec": {"ttl": "30d"}}`), metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.ttl") {
			t.Errorf("the real CRD accepted ttl 30d: %v", err)
		}
	}})

	// The server synced (startArk waited for it to serve): it takes a new backup.
	out := e.mustRun("backup", "create", "after", "--include-namespaces", e.namespace, "--wait")
	if !strings.Contains(out, "Completed") {
		t.Fatalf("backup after bad objects:\n%s", out)
	}
	// The CLI lists the good objects and warns of the bad ones.
	out = e.mustRun("backup", "get")
	for _, want := range []string{"after", "old-good", "Warning: Backup " + e.namespace + "/typo cannot be read", `unknown unit "d"`} {
		if !strings.Contains(out, want) {
			t.Errorf("ark backup get: no %q in\n%s", want, out)
		}
	}
	if out := e.mustRun("schedule", "get"); !strings.Contains(out, "Warning: Schedule "+e.namespace+"/weekly") {
		t.Errorf("ark schedule get:\n%s", out)
	}
	if out := e.mustRun("restore", "get"); !strings.Contains(out, "Warning: Restore "+e.namespace+"/strings") {
		t.Errorf("ark restore get:\n%s", out)
	}
	if out, err := e.run("backup", "describe", "typo"); err == nil || !strings.Contains(out+err.Error(), "cannot be read") {
		t.Errorf("ark backup describe typo: %v\n%s", err, out)
	}
	e.mustRun("backup", "describe", "old-good")

	// Each bad object got a Warning Event that says why.
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		events, err := testCluster.Client().CoreV1().Events(e.namespace).List(ctx, metav1.ListOptions{FieldSelector: "reason=Undecodable"})
		if err != nil {
			return false, err
		}
		got := map[string]bool{}
		for _, ev := range events.Items {
			got[ev.InvolvedObject.Kind+"/"+ev.InvolvedObject.Name] = true
		}
		for k := range bad {
			if !got[k] {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Errorf("no Undecodable event for each of %v: %v", keys(bad), err)
	}

	// Deleting the bad objects works and leaves the server serving.
	for _, o := range bad {
		if err := testCluster.Dynamic().Resource(tolerant.Resource(o.GetKind())).Namespace(e.namespace).Delete(ctx, o.GetName(), metav1.DeleteOptions{}); err != nil {
			t.Errorf("deleting %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
	e.waitServing()
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// badField is one object with one wrong field, and what must happen to it.
type badField struct {
	kind, name, fields string
	status             string // when set, the object is created with fields and then this status is written
	refused            string // the API server refuses it, naming this
	failedValidation   string // the API server takes it, the server sets FailedValidation with this
}

// Every field of every ark kind, given a wrong type or an out-of-range value
// through the raw API: the API server refuses it with a message naming the
// field, or (where a schema cannot say it) the controller sets
// FailedValidation with a message that says why.
func TestFaultRawAPIBadFields(t *testing.T) {
	newFault(t, "every field of every kind wrong through the raw API")
	ctx := context.Background()
	e := startArk(t, testCluster, envOptions{})
	hook := func(exec string) string {
		return `{"spec": {"hooks": {"resources": [{"name": "h", "pre": [{"exec": ` + exec + `}]}]}}}`
	}
	long := strings.Repeat("a", 239)
	cases := []badField{
		// Backup
		{kind: "Backup", fields: `{"spec": {"ttl": "30d"}}`, refused: "spec.ttl"},
		{kind: "Backup", fields: `{"spec": {"ttl": 30}}`, refused: "spec.ttl"},
		{kind: "Backup", fields: `{"spec": {"ttl": "-1h"}}`, refused: "spec.ttl"},
		{kind: "Backup", fields: `{"spec": {"ttl": "3000000h"}}`, refused: "spec.ttl"},
		{kind: "Backup", fields: `{"spec": {"includedNamespaces": "default"}}`, refused: "spec.includedNamespaces"},
		{kind: "Backup", fields: `{"spec": {"includedNamespaces": ["Not_A_Namespace"]}}`, refused: "spec.includedNamespaces[0]"},
		{kind: "Backup", fields: `{"spec": {"excludedNamespaces": [""]}}`, refused: "spec.excludedNamespaces[0]"},
		{kind: "Backup", fields: `{"spec": {"includedResources": [""]}}`, refused: "spec.includedResources[0]"},
		{kind: "Backup", fields: `{"spec": {"excludedResources": "secrets"}}`, refused: "spec.excludedResources"},
		{kind: "Backup", fields: `{"spec": {"labelSelector": "app=x"}}`, refused: "spec.labelSelector"},
		{kind: "Backup", fields: `{"spec": {"snapshotVolumes": "yes"}}`, refused: "spec.snapshotVolumes"},
		{kind: "Backup", fields: `{"spec": {"includeClusterResources": "yes"}}`, refused: "spec.includeClusterResources"},
		{kind: "Backup", fields: `{"spec": {"hooks": {"resources": [{"pre": [{"exec": {"command": ["true"]}}]}]}}}`, refused: "spec.hooks.resources[0].name"},
		{kind: "Backup", fields: hook(`{"command": []}`), refused: "spec.hooks.resources[0].pre[0].exec.command"},
		{kind: "Backup", fields: hook(`{"command": ["true"], "onError": "Retry"}`), refused: "spec.hooks.resources[0].pre[0].exec.onError"},
		{kind: "Backup", fields: hook(`{"command": ["true"], "timeout": "1d"}`), refused: "spec.hooks.resources[0].pre[0].exec.timeout"},
		{kind: "Backup", fields: `{"spec": {}}`, status: `{"phase": "Bogus"}`, refused: "status.phase"},
		{kind: "Backup", fields: `{"spec": {}}`, status: `{"phase": "Completed", "progress": {"totalItems": -1}}`, refused: "status.progress.totalItems"},
		{kind: "Backup", fields: `{"spec": {}}`, status: `{"phase": "Completed", "expiration": "tomorrow"}`, refused: "status.expiration"},
		{kind: "Backup", fields: `{"spec": {"labelSelector": {"matchExpressions": [{"key": "a", "operator": "Near"}]}}}`, failedValidation: "invalid label selector"},
		{kind: "Backup", fields: `{"spec": {"excludedNamespaces": ["*"]}}`, failedValidation: `"*" is not allowed`},
		{kind: "Backup", fields: `{"spec": {"includedResources": ["secrts"]}}`, failedValidation: "secrts"},
		// Restore
		{kind: "Restore", fields: `{"spec": {}}`, refused: "spec.backupName"},
		{kind: "Restore", fields: `{"spec": {"backupName": 5}}`, refused: "spec.backupName"},
		{kind: "Restore", fields: `{"spec": {"backupName": "b", "namespaceMapping": "a:b"}}`, refused: "spec.namespaceMapping"},
		{kind: "Restore", fields: `{"spec": {"backupName": "b", "namespaceMapping": {"Not_A_Namespace": "b"}}}`, failedValidation: "not a valid namespace name"},
		{kind: "Restore", fields: `{"spec": {"backupName": "b", "restorePVs": "no"}}`, refused: "spec.restorePVs"},
		{kind: "Restore", fields: `{"spec": {"backupName": "b", "includedNamespaces": ["Not_A_Namespace"]}}`, refused: "spec.includedNamespaces[0]"},
		{kind: "Restore", fields: `{"spec": {"backupName": "b", "includedResources": [""]}}`, refused: "spec.includedResources[0]"},
		{kind: "Restore", fields: `{"spec": {"backupName": "b"}}`, status: `{"phase": "Bogus"}`, refused: "status.phase"},
		{kind: "Restore", fields: `{"spec": {"backupName": "b"}}`, status: `{"phase": "Completed", "warnings": -1}`, refused: "status.warnings"},
		{kind: "Restore", fields: `{"spec": {"backupName": "no-such-backup"}}`, failedValidation: "no-such-backup"},
		{kind: "Restore", fields: `{"spec": {"backupName": "b", "namespaceMapping": {"a": "c", "b": "c"}}}`, failedValidation: "both map to c"},
		// Schedule
		{kind: "Schedule", fields: `{"spec": {"schedule": ""}}`, refused: "spec.schedule"},
		{kind: "Schedule", fields: `{"spec": {"schedule": 7}}`, refused: "spec.schedule"},
		{kind: "Schedule", fields: `{"spec": {"schedule": "@daily", "template": {"ttl": "1w"}}}`, refused: "spec.template.ttl"},
		{kind: "Schedule", fields: `{"spec": {"schedule": "@daily", "template": "all"}}`, refused: "spec.template"},
		{kind: "Schedule", name: long, fields: `{"spec": {"schedule": "@daily"}}`, refused: "at most 238 characters"},
		{kind: "Schedule", fields: `{"spec": {"schedule": "@daily"}}`, status: `{"phase": "Bogus"}`, refused: "status.phase"},
		{kind: "Schedule", fields: `{"spec": {"schedule": "every day at 7"}}`, failedValidation: "invalid schedule"},
		{kind: "Schedule", fields: `{"spec": {"schedule": "@daily", "template": {"excludedNamespaces": ["*"]}}}`, failedValidation: `"*" is not allowed`},
		// Config (not the server's own "default": its Config is read once, at start)
		{kind: "Config", fields: `{"backupStorageProvider": {"name": "s3", "bucket": "b"}}`, refused: "backupStorageProvider"},
		{kind: "Config", fields: `{"backupStorageProvider": {"name": "aws", "bucket": ""}}`, refused: "backupStorageProvider.bucket"},
		{kind: "Config", fields: `{}`, refused: "backupStorageProvider"},
		{kind: "Config", fields: `{"backupStorageProvider": {"name": "aws", "bucket": "b"}, "persistentVolumeProvider": {"name": "ebs"}}`, refused: "persistentVolumeProvider"},
		{kind: "Config", fields: `{"backupStorageProvider": {"name": "aws", "bucket": "b", "config": {"region": 1}}}`, refused: "backupStorageProvider.config.region"},
		{kind: "Config", fields: `{"backupStorageProvider": {"name": "aws", "bucket": "b"}, "backupSyncPeriod": "1d"}`, refused: "backupSyncPeriod"},
		{kind: "Config", fields: `{"backupStorageProvider": {"name": "aws", "bucket": "b"}, "gcSyncPeriod": 60}`, refused: "gcSyncPeriod"},
		{kind: "Config", fields: `{"backupStorageProvider": {"name": "aws", "bucket": "b"}, "scheduleSyncPeriod": "-1m"}`, refused: "scheduleSyncPeriod"},
		{kind: "Config", fields: `{"backupStorageProvider": {"name": "aws", "bucket": "b"}, "restoreOnlyMode": "yes"}`, refused: "restoreOnlyMode"},
		{kind: "Config", fields: `{"backupStorageProvider": {"name": "aws", "bucket": "b"}, "resourcePriorities": "secrets"}`, refused: "resourcePriorities"},
		{kind: "Config", fields: `{"backupStorageProvider": {"name": "aws", "bucket": "b"}, "resourcePriorities": [""]}`, refused: "resourcePriorities[0]"},
		// DownloadRequest
		{kind: "DownloadRequest", fields: `{"spec": {"target": {"kind": "Tarball", "name": "b"}}}`, refused: "spec.target.kind"},
		{kind: "DownloadRequest", fields: `{"spec": {"target": {"kind": "BackupLog", "name": ""}}}`, refused: "spec.target.name"},
		{kind: "DownloadRequest", fields: `{"spec": {}}`, refused: "spec.target"},
		{kind: "DownloadRequest", fields: `{"spec": {"target": {"kind": "BackupLog", "name": "b"}}}`, status: `{"phase": "Done"}`, refused: "status.phase"},
	}
	for i, tc := range cases {
		name := tc.name
		if name == "" {
			name = strings.ToLower(tc.kind) + "-" + string(rune('a'+i/26)) + string(rune('a'+i%26))
		}
		t.Run(tc.kind+" "+tc.fields+" "+tc.status, func(t *testing.T) {
			res := testCluster.Dynamic().Resource(tolerant.Resource(tc.kind)).Namespace(e.namespace)
			_, err := res.Create(ctx, rawObject(t, e.namespace, tc.kind, name, tc.fields), metav1.CreateOptions{})
			if tc.status != "" && err == nil {
				var status map[string]any
				if err := json.Unmarshal([]byte(tc.status), &status); err != nil {
					t.Fatal(err)
				}
				// The server may update the object meanwhile: write over its newest version.
				err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
					cur, err := res.Get(ctx, name, metav1.GetOptions{})
					if err != nil {
						return err
					}
					cur.Object["status"] = status
					_, err = res.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
					return err
				})
			}
			if tc.refused != "" {
				if !apierrors.IsInvalid(err) {
					t.Fatalf("want the API server to refuse it (Invalid), got %v", err)
				}
				if !strings.Contains(err.Error(), tc.refused) {
					t.Errorf("refused, but the message does not name %q: %v", tc.refused, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("want the API server to take it (the controller says FailedValidation), got %v", err)
			}
			var last *unstructured.Unstructured
			err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
				last, err = res.Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				phase, _, _ := unstructured.NestedString(last.Object, "status", "phase")
				return phase != "" && phase != "New", nil
			})
			phase, _, _ := unstructured.NestedString(last.Object, "status", "phase")
			errs, _, _ := unstructured.NestedStringSlice(last.Object, "status", "validationErrors")
			if err != nil || phase != "FailedValidation" || !strings.Contains(strings.Join(errs, "; "), tc.failedValidation) {
				t.Errorf("want FailedValidation naming %q, got phase %q, validationErrors %q (%v)", tc.failedValidation, phase, errs, err)
			}
		})
	}
	// The server is still serving after all of it.
	e.waitServing()
}

// The API server refuses a Config whose encryption section the server would refuse at
// start (validation.Config): a recipient that is neither an age key nor a KMS key URI of
// the right form, age recipients without the Secret of identities, an empty section, a
// bad Secret name or key. What the server takes, the API server takes too.
func TestConfigEncryptionSchema(t *testing.T) {
	ctx := context.Background()
	ns := testCluster.NewNamespace(t)
	ark := adminArkClient(t, testCluster)
	var ageKey string
	for ageKey == "" || strings.HasPrefix(ageKey, "age1pq") { // the server takes no age1pq… key (post-quantum)
		id, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		ageKey = id.Recipient().String()
	}
	// The same key with its last character changed: its form is right, its checksum is
	// not, which only the server sees.
	badSum := ageKey[:len(ageKey)-1] + map[bool]string{true: "q", false: "p"}[!strings.HasSuffix(ageKey, "q")]
	secret := &arkv1.SecretKeySelector{Name: "ark-keys"}
	const (
		awsAlias = "awskms://alias/ark?region=eu-west-1"
		awsARN   = "awskms://arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
		gcpKey   = "gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k"
		azureKey = "azurekeyvault://myvault.vault.azure.net/keys/ark/0123abcd"
	)
	cases := []struct {
		name       string
		enc        arkv1.EncryptionConfig
		refused    string // the API server refuses it, naming this; "" means it takes it
		serverOnly bool   // taken by the API server, refused by the server at start
	}{
		{name: "age key with identities", enc: arkv1.EncryptionConfig{Recipients: []string{ageKey}, IdentitySecret: secret}},
		{name: "age key with white space around it", enc: arkv1.EncryptionConfig{Recipients: []string{"  " + ageKey + "\n"}, IdentitySecret: secret}},
		{name: "KMS alias alone", enc: arkv1.EncryptionConfig{Recipients: []string{awsAlias}}},
		{name: "KMS ARN alone", enc: arkv1.EncryptionConfig{Recipients: []string{awsARN}}},
		{name: "KMS key id alone", enc: arkv1.EncryptionConfig{Recipients: []string{"awskms://1234abcd-12ab-34cd-56ef-1234567890ab"}}},
		{name: "Cloud KMS alone", enc: arkv1.EncryptionConfig{Recipients: []string{gcpKey}}},
		{name: "Key Vault alone", enc: arkv1.EncryptionConfig{Recipients: []string{azureKey}}},
		{name: "age key and a KMS key, no identities", enc: arkv1.EncryptionConfig{Recipients: []string{ageKey, gcpKey}}},
		{name: "identities only", enc: arkv1.EncryptionConfig{IdentitySecret: &arkv1.SecretKeySelector{Name: "ark-keys", Key: "old.txt"}}},
		{name: "age key with a wrong checksum", enc: arkv1.EncryptionConfig{Recipients: []string{badSum}, IdentitySecret: secret}, serverOnly: true},

		{name: "unknown scheme", enc: arkv1.EncryptionConfig{Recipients: []string{"vault://x"}, IdentitySecret: secret}, refused: "must be an age X25519 recipient (age1…) or a KMS key URI"},
		{name: "a public key of another kind", enc: arkv1.EncryptionConfig{Recipients: []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"}, IdentitySecret: secret}, refused: "encryption.recipients[0]"},
		{name: "short age key", enc: arkv1.EncryptionConfig{Recipients: []string{"age1abc"}, IdentitySecret: secret}, refused: "an age recipient is age1 and 58 bech32 characters"},
		{name: "upper-case age key", enc: arkv1.EncryptionConfig{Recipients: []string{"age1" + strings.ToUpper(ageKey[4:])}, IdentitySecret: secret}, refused: "an age recipient is age1"},
		{name: "second recipient bad", enc: arkv1.EncryptionConfig{Recipients: []string{ageKey, "age1pq" + ageKey[6:]}, IdentitySecret: secret}, refused: "encryption.recipients[1]"},
		{name: "KMS alias without a name", enc: arkv1.EncryptionConfig{Recipients: []string{"awskms://alias/"}}, refused: "an AWS KMS key is awskms://"},
		{name: "ARN of something else", enc: arkv1.EncryptionConfig{Recipients: []string{"awskms://arn:aws:s3:::bucket"}}, refused: "an AWS KMS key is awskms://"},
		{name: "Cloud KMS key version", enc: arkv1.EncryptionConfig{Recipients: []string{gcpKey + "/cryptoKeyVersions/1"}}, refused: "a Cloud KMS key is gcpkms://"},
		{name: "Key Vault secret", enc: arkv1.EncryptionConfig{Recipients: []string{"azurekeyvault://myvault.vault.azure.net/secrets/ark"}}, refused: "an Azure Key Vault key is azurekeyvault://"},
		{name: "age key without identities", enc: arkv1.EncryptionConfig{Recipients: []string{ageKey}}, refused: "identitySecret is required with age recipients"},
		{name: "empty section", enc: arkv1.EncryptionConfig{}, refused: "encryption needs recipients"},
		{name: "empty recipients, no identities", enc: arkv1.EncryptionConfig{Recipients: []string{}}, refused: "encryption needs recipients"},
		{name: "bad Secret name", enc: arkv1.EncryptionConfig{Recipients: []string{ageKey}, IdentitySecret: &arkv1.SecretKeySelector{Name: "Keys!"}}, refused: "encryption.identitySecret.name"},
		{name: "bad Secret key", enc: arkv1.EncryptionConfig{Recipients: []string{ageKey}, IdentitySecret: &arkv1.SecretKeySelector{Name: "k", Key: "../x"}}, refused: "encryption.identitySecret.key"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			enc := tc.enc
			cfg := &arkv1.Config{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("enc-%02d", i)},
				BackupStorageProvider: arkv1.ObjectStorageProviderConfig{
					CloudProviderConfig: arkv1.CloudProviderConfig{Name: "filesystem", Config: map[string]string{"root": "/tmp"}},
					Bucket:              "ark",
				},
				Encryption: &enc,
			}
			serverErrs := validation.Config(cfg)
			_, err := ark.ArkV1().Configs(ns).Create(ctx, cfg, metav1.CreateOptions{})
			switch {
			case tc.refused != "":
				if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.refused) {
					t.Fatalf("want the API server to refuse it naming %q, got %v", tc.refused, err)
				}
				if len(serverErrs) == 0 {
					t.Errorf("the API server refuses what the server takes: %v", err)
				}
			case err != nil:
				t.Fatalf("the API server refused it: %v", err)
			case tc.serverOnly != (len(serverErrs) > 0):
				t.Errorf("the server's validation says %q, want refused=%v", serverErrs, tc.serverOnly)
			}
		})
	}
}
