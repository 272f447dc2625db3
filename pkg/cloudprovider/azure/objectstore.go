// Package azure implements cloudprovider.ObjectStore on Azure Blob Storage with azblob.
// A bucket is a blob container.
//
// Credentials (from the environment, or from the file AZURE_CREDENTIALS_FILE names:
// CredentialsFileEnv), in this order: AZURE_STORAGE_CONNECTION_STRING; AZURE_STORAGE_ACCOUNT with
// AZURE_STORAGE_KEY (shared key); AZURE_STORAGE_ACCOUNT alone with an Azure AD identity
// (azidentity's default chain: environment, workload identity, managed identity, Azure CLI).
// Download URLs are SAS URLs signed with the shared key, so they need a key.
//
// Config keys: storageAccount (overrides AZURE_STORAGE_ACCOUNT), storageEndpoint: the service
// URL, default https://<account>.blob.core.windows.net/; for Azurite the path-style
// http://127.0.0.1:10000/devstoreaccount1; publicUrl: the service URL clients outside the
// cluster reach, which download (SAS) URLs are given instead of the endpoint (a SAS does not
// sign the host, so only the URL's base changes).
package azure

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/heptio/ark/pkg/cloudprovider"
)

const provider = "azure"

// Upload tuning: UploadStream holds Concurrency buffers of BlockSize, so 32 MiB per upload;
// 50,000 blocks of 8 MiB allow blobs up to 390 GiB.
const (
	blockSize      = 8 << 20
	uploadParallel = 4
)

// ConfigKeys are the config keys this provider reads.
var ConfigKeys = []string{"storageAccount", "storageEndpoint", cloudprovider.PublicURLKey}

// Options configures an ObjectStore. Empty fields fall back to the environment.
type Options struct {
	Endpoint         string
	Account          string
	AccountKey       string
	ConnectionString string
}

// ObjectStore is the Azure Blob implementation of cloudprovider.ObjectStore.
type ObjectStore struct {
	client     *azblob.Client
	canSignSAS bool
	public     *url.URL // publicUrl, or nil
}

var _ cloudprovider.ObjectStore = (*ObjectStore)(nil)

// NewFromConfig builds an ObjectStore from Config.backupStorageProvider.config and the
// environment.
func NewFromConfig(ctx context.Context, config map[string]string) (*ObjectStore, error) {
	if err := cloudprovider.CheckConfigKeys(provider, config, ConfigKeys...); err != nil {
		return nil, err
	}
	public, err := cloudprovider.ParsePublicURL(provider, config)
	if err != nil {
		return nil, err
	}
	s, err := New(ctx, Options{Endpoint: config["storageEndpoint"], Account: config["storageAccount"]})
	if err != nil {
		return nil, err
	}
	s.public = public
	return s, nil
}

// New builds an ObjectStore.
func New(_ context.Context, o Options) (*ObjectStore, error) {
	if err := loadCredentials(); err != nil {
		return nil, err
	}
	if o.ConnectionString == "" && o.AccountKey == "" {
		o.ConnectionString = os.Getenv("AZURE_STORAGE_CONNECTION_STRING")
	}
	if o.Account == "" {
		o.Account = os.Getenv("AZURE_STORAGE_ACCOUNT")
	}
	if o.AccountKey == "" && o.ConnectionString == "" {
		o.AccountKey = os.Getenv("AZURE_STORAGE_KEY")
	}
	clientOpts := &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{
		// The default waits 4s, 8s, 16s... between tries; a refused connection should fail
		// within seconds.
		Retry: policy.RetryOptions{MaxRetries: 3, RetryDelay: 200 * time.Millisecond, MaxRetryDelay: 3 * time.Second},
	}}
	if o.ConnectionString != "" {
		c, err := azblob.NewClientFromConnectionString(o.ConnectionString, clientOpts)
		if err != nil {
			// Do not wrap err: it could quote the connection string, which holds the key.
			return nil, fmt.Errorf("%s: AZURE_STORAGE_CONNECTION_STRING is not a valid storage connection string", provider)
		}
		return &ObjectStore{client: c, canSignSAS: true}, nil
	}
	if o.Account == "" {
		return nil, fmt.Errorf("%s: no storage account: set AZURE_STORAGE_ACCOUNT (and AZURE_STORAGE_KEY) or AZURE_STORAGE_CONNECTION_STRING", provider)
	}
	endpoint := o.Endpoint
	if endpoint == "" {
		endpoint = fmt.Sprintf("https://%s.blob.core.windows.net/", o.Account)
	} else if u, err := url.Parse(endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, cloudprovider.ConfigError(provider, "config key \"storageEndpoint\": %q is not an http(s) URL", endpoint)
	}
	if o.AccountKey != "" {
		cred, err := azblob.NewSharedKeyCredential(o.Account, o.AccountKey)
		if err != nil {
			return nil, fmt.Errorf("%s: AZURE_STORAGE_KEY is not a valid base64 account key", provider)
		}
		c, err := azblob.NewClientWithSharedKeyCredential(endpoint, cred, clientOpts)
		if err != nil {
			return nil, fmt.Errorf("%s: creating blob client for %s: %w", provider, endpoint, err)
		}
		return &ObjectStore{client: c, canSignSAS: true}, nil
	}
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return nil, fmt.Errorf("%s: no AZURE_STORAGE_KEY and no Azure AD identity: %w", provider, err)
	}
	c, err := azblob.NewClient(endpoint, cred, clientOpts)
	if err != nil {
		return nil, fmt.Errorf("%s: creating blob client for %s: %w", provider, endpoint, err)
	}
	return &ObjectStore{client: c}, nil
}

func (s *ObjectStore) wrap(op, bucket, key string, err error) error {
	if err == nil {
		return nil
	}
	cause := err
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		// ResponseError's own text spans many lines with the request and response; keep the
		// status and the service's error code.
		short := fmt.Errorf("HTTP %d %s", re.StatusCode, re.ErrorCode)
		switch {
		case bloberror.HasCode(err, bloberror.ContainerNotFound, bloberror.ContainerBeingDeleted):
			cause = fmt.Errorf("%w (container): %v", cloudprovider.ErrBucketNotFound, short)
		case bloberror.HasCode(err, bloberror.BlobNotFound) || re.StatusCode == http.StatusNotFound:
			cause = cloudprovider.ErrNotFound
		case re.StatusCode == http.StatusForbidden || re.StatusCode == http.StatusUnauthorized ||
			bloberror.HasCode(err, bloberror.AuthenticationFailed, bloberror.AuthorizationFailure):
			cause = fmt.Errorf("%w: %v", cloudprovider.ErrAccessDenied, short)
		default:
			cause = short
		}
	}
	return &cloudprovider.Error{Provider: provider, Op: op, Bucket: bucket, Key: key, Err: cause}
}

// PutObjectIfAbsent uploads body as one block blob with If-None-Match: *; the service
// answers 409 BlobAlreadyExists (or 412 ConditionNotMet) when the blob exists.
func (s *ObjectStore) PutObjectIfAbsent(ctx context.Context, bucket, key string, body io.Reader) error {
	if err := cloudprovider.CheckBucket(provider, "put", bucket); err != nil {
		return err
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return s.wrap("put", bucket, key, err)
	}
	_, err = s.client.UploadBuffer(ctx, bucket, key, data, &azblob.UploadBufferOptions{
		AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: to.Ptr(azcore.ETagAny)}},
	})
	if bloberror.HasCode(err, bloberror.BlobAlreadyExists, bloberror.ConditionNotMet) {
		return &cloudprovider.Error{Provider: provider, Op: "put", Bucket: bucket, Key: key, Err: fmt.Errorf("%w: %v", cloudprovider.ErrAlreadyExists, err)}
	}
	return s.wrap("put", bucket, key, err)
}

// PutObject streams body as a block blob; blocks are committed only at the end, so a failed
// upload leaves no blob.
func (s *ObjectStore) PutObject(ctx context.Context, bucket, key string, body io.Reader) error {
	if err := cloudprovider.CheckBucket(provider, "put", bucket); err != nil {
		return err
	}
	_, err := s.client.UploadStream(ctx, bucket, key, body, &azblob.UploadStreamOptions{
		BlockSize: blockSize, Concurrency: uploadParallel,
	})
	return s.wrap("put", bucket, key, err)
}

// GetObject opens bucket/key.
func (s *ObjectStore) GetObject(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	if err := cloudprovider.CheckBucket(provider, "get", bucket); err != nil {
		return nil, err
	}
	resp, err := s.client.DownloadStream(ctx, bucket, key, nil)
	if err != nil {
		return nil, s.wrap("get", bucket, key, err)
	}
	return resp.Body, nil
}

// ListObjects lists every key under prefix.
func (s *ObjectStore) ListObjects(ctx context.Context, bucket, prefix string) ([]string, error) {
	if err := cloudprovider.CheckBucket(provider, "list", bucket); err != nil {
		return nil, err
	}
	var ret []string
	p := s.client.NewListBlobsFlatPager(bucket, &azblob.ListBlobsFlatOptions{Prefix: &prefix})
	for p.More() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s.wrap("list", bucket, prefix, err)
		}
		for _, b := range page.Segment.BlobItems {
			if b.Name != nil {
				ret = append(ret, *b.Name)
			}
		}
	}
	sort.Strings(ret)
	return ret, nil
}

// DeleteObject deletes bucket/key (and its snapshots); a missing key is not an error.
func (s *ObjectStore) DeleteObject(ctx context.Context, bucket, key string) error {
	if err := cloudprovider.CheckBucket(provider, "delete", bucket); err != nil {
		return err
	}
	include := azblob.DeleteSnapshotsOptionTypeInclude
	_, err := s.client.DeleteBlob(ctx, bucket, key, &azblob.DeleteBlobOptions{DeleteSnapshots: &include})
	if bloberror.HasCode(err, bloberror.BlobNotFound) {
		return nil
	}
	return s.wrap("delete", bucket, key, err)
}

// CreateSignedURL returns a read-only SAS URL for bucket/key valid for ttl.
func (s *ObjectStore) CreateSignedURL(ctx context.Context, bucket, key string, ttl time.Duration) (string, error) {
	if err := cloudprovider.CheckBucket(provider, "sign", bucket); err != nil {
		return "", err
	}
	if ttl <= 0 {
		return "", &cloudprovider.Error{Provider: provider, Op: "sign", Bucket: bucket, Key: key,
			Err: fmt.Errorf("ttl must be positive, got %s", ttl)}
	}
	if !s.canSignSAS {
		return "", &cloudprovider.Error{Provider: provider, Op: "sign", Bucket: bucket, Key: key,
			Err: errors.New("SAS download URLs need a shared key: set AZURE_STORAGE_KEY or AZURE_STORAGE_CONNECTION_STRING")}
	}
	bc := s.client.ServiceClient().NewContainerClient(bucket).NewBlobClient(key)
	// Start a few minutes back so that a clock running behind on the server accepts it.
	start := time.Now().Add(-5 * time.Minute).UTC()
	u, err := bc.GetSASURL(sas.BlobPermissions{Read: true}, time.Now().Add(ttl).UTC(), &blob.GetSASURLOptions{StartTime: &start})
	if err != nil {
		return "", s.wrap("sign", bucket, key, err)
	}
	if s.public != nil {
		if u, err = cloudprovider.RebaseURL(u, s.client.URL(), s.public); err != nil {
			return "", &cloudprovider.Error{Provider: provider, Op: "sign", Bucket: bucket, Key: key, Err: err}
		}
	}
	return u, nil
}
