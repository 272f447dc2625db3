package azure

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// CredentialsFileEnv names a file of KEY=VALUE lines (the Secret
// cloud-credentials mounted in the server's pod, as Velero's Azure plugin
// reads it) whose AZURE_* variables are used as if they were set in the
// environment: AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_ACCOUNT,
// AZURE_STORAGE_KEY for the bucket; AZURE_TENANT_ID, AZURE_CLIENT_ID,
// AZURE_CLIENT_SECRET for azidentity's environment credential (snapshots). A
// variable already set in the environment wins. Blank lines and lines starting
// with # are skipped.
const CredentialsFileEnv = "AZURE_CREDENTIALS_FILE"

var loadCredentials = sync.OnceValue(func() error { return loadCredentialsFile(os.Getenv(CredentialsFileEnv)) })

// DefaultCredential returns azidentity's default chain (environment: AZURE_TENANT_ID,
// AZURE_CLIENT_ID, AZURE_CLIENT_SECRET; workload identity; managed identity; Azure CLI)
// after the AZURE_* variables of the file CredentialsFileEnv names are loaded. The
// managed-disk client and Key Vault keys (pkg/encryption/kms) authenticate with it.
func DefaultCredential() (azcore.TokenCredential, error) {
	if err := loadCredentials(); err != nil {
		return nil, err
	}
	return azidentity.NewDefaultAzureCredential(nil)
}

// loadCredentialsFile sets the AZURE_* variables of path that the environment
// does not set. An empty path, or a missing file (the Secret is optional), is
// no error. Errors never quote a value.
func loadCredentialsFile(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %s: %w", provider, CredentialsFileEnv, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(strings.TrimPrefix(key, "export "))
		if !ok || !strings.HasPrefix(key, "AZURE_") {
			return fmt.Errorf("%s: %s %s line %d: want AZURE_NAME=value", provider, CredentialsFileEnv, path, n)
		}
		value = strings.Trim(strings.TrimSpace(value), `"'`)
		if _, set := os.LookupEnv(key); !set {
			if err := os.Setenv(key, value); err != nil {
				return err
			}
		}
	}
	return sc.Err()
}
