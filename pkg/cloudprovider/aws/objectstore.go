// Package aws implements cloudprovider.ObjectStore on Amazon S3 and S3-compatible servers
// (MinIO, versitygw) with aws-sdk-go-v2.
//
// Config keys (Config.backupStorageProvider.config): region, s3Url (endpoint of an
// S3-compatible server), s3ForcePathStyle ("true" for MinIO and most S3-compatible servers),
// kmsKeyId (uploads use SSE-KMS with this key when set). Credentials come from the SDK's
// default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the shared files,
// web identity, instance role); they are never logged nor put in errors.
package aws

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/heptio/ark/pkg/cloudprovider"
)

const provider = "aws"

// Upload tuning. transfermanager reads an unknown-length stream into a fixed pool of
// Concurrency+1 part buffers (plus the first part, read before it knows whether the stream
// needs a multipart upload), so an upload holds at most about (Concurrency+2)*PartSize bytes:
// 40 MiB here, whatever the object size. 10,000 parts of 8 MiB allow objects up to 80 GiB.
const (
	partSize        = 8 << 20
	uploadParallel  = 3
	uploadThreshold = 8 << 20
)

// Options configures an ObjectStore.
type Options struct {
	Region         string
	Endpoint       string // s3Url; empty for AWS itself
	ForcePathStyle bool
	KMSKeyID       string
	// Credentials overrides the default chain (tests); nil uses the default chain.
	Credentials aws.CredentialsProvider
}

// ObjectStore is the S3 implementation of cloudprovider.ObjectStore.
type ObjectStore struct {
	client   *s3.Client
	presign  *s3.PresignClient
	uploader *transfermanager.Client
	kmsKeyID string
}

var _ cloudprovider.ObjectStore = (*ObjectStore)(nil)

// ConfigKeys are the config keys this provider reads.
var ConfigKeys = []string{"region", "s3Url", "s3ForcePathStyle", "kmsKeyId"}

// NewFromConfig builds an ObjectStore from Config.backupStorageProvider.config.
func NewFromConfig(ctx context.Context, config map[string]string) (*ObjectStore, error) {
	if err := cloudprovider.CheckConfigKeys(provider, config, ConfigKeys...); err != nil {
		return nil, err
	}
	pathStyle, err := cloudprovider.ConfigBool(provider, config, "s3ForcePathStyle")
	if err != nil {
		return nil, err
	}
	return New(ctx, Options{
		Region:         config["region"],
		Endpoint:       config["s3Url"],
		ForcePathStyle: pathStyle,
		KMSKeyID:       config["kmsKeyId"],
	})
}

// New builds an ObjectStore.
func New(ctx context.Context, o Options) (*ObjectStore, error) {
	if o.Region == "" && o.Endpoint == "" {
		return nil, cloudprovider.ConfigError(provider, "config key \"region\" is required")
	}
	if o.Region == "" {
		// S3-compatible servers mostly ignore the region, but the signer needs one.
		o.Region = "us-east-1"
	}
	loadOpts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(o.Region)}
	if o.Credentials != nil {
		loadOpts = append(loadOpts, awsconfig.WithCredentialsProvider(o.Credentials))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		// The SDK's message names the file or variable at fault, never a secret's value.
		return nil, fmt.Errorf("%s: loading AWS configuration and credentials: %w", provider, err)
	}
	if o.Endpoint != "" {
		if err := checkURL(o.Endpoint); err != nil {
			return nil, cloudprovider.ConfigError(provider, "config key \"s3Url\": %v", err)
		}
	}
	client := s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		so.UsePathStyle = o.ForcePathStyle
		// Objects uploaded in parts have no whole-object checksum to validate; the SDK
		// would log a warning on every such download.
		so.DisableLogOutputChecksumValidationSkipped = true
	})
	return &ObjectStore{
		client:  client,
		presign: s3.NewPresignClient(client),
		uploader: transfermanager.New(client, func(to *transfermanager.Options) {
			to.PartSizeBytes = partSize
			to.Concurrency = uploadParallel
			to.MultipartUploadThreshold = uploadThreshold
			// Abort a failed multipart upload even when ctx was cancelled.
			to.FailTimeout = 30 * time.Second
		}),
		kmsKeyID: o.KMSKeyID,
	}, nil
}

func (s *ObjectStore) wrap(op, bucket, key string, err error) error {
	if err == nil {
		return nil
	}
	var (
		apiErr    smithy.APIError
		respErr   *smithyhttp.ResponseError
		noKey     *types.NoSuchKey
		noBucket  *types.NoSuchBucket
		notFound  *types.NotFound
		cause     = err
		errorCode string
	)
	if errors.As(err, &apiErr) {
		errorCode = apiErr.ErrorCode()
	}
	switch {
	case errors.As(err, &noBucket) || errorCode == "NoSuchBucket":
		cause = fmt.Errorf("%w: %v", cloudprovider.ErrBucketNotFound, err)
	case errors.As(err, &noKey) || errors.As(err, &notFound) || errorCode == "NoSuchKey":
		cause = cloudprovider.ErrNotFound
	case errorCode == "AccessDenied" || errorCode == "InvalidAccessKeyId" ||
		errorCode == "SignatureDoesNotMatch" || errorCode == "InvalidToken" ||
		errorCode == "ExpiredToken" || errorCode == "Forbidden":
		cause = fmt.Errorf("%w: %v", cloudprovider.ErrAccessDenied, err)
	case errors.As(err, &respErr) && respErr.HTTPStatusCode() == http.StatusForbidden:
		cause = fmt.Errorf("%w: %v", cloudprovider.ErrAccessDenied, err)
	}
	return &cloudprovider.Error{Provider: provider, Op: op, Bucket: bucket, Key: key, Err: cause}
}

// PutObjectIfAbsent is one PUT with If-None-Match: * (S3 conditional writes): S3 answers
// 412 Precondition Failed when the key exists, or 409 ConditionalRequestConflict when
// another conditional write of the key is in flight; both mean another writer won.
func (s *ObjectStore) PutObjectIfAbsent(ctx context.Context, bucket, key string, body io.Reader) error {
	if err := cloudprovider.CheckBucket(provider, "put", bucket); err != nil {
		return err
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return s.wrap("put", bucket, key, err)
	}
	in := &s3.PutObjectInput{
		Bucket:      aws.String(bucket),
		Key:         aws.String(key),
		Body:        bytes.NewReader(data),
		IfNoneMatch: aws.String("*"),
	}
	if s.kmsKeyID != "" {
		in.ServerSideEncryption = "aws:kms"
		in.SSEKMSKeyId = aws.String(s.kmsKeyID)
	}
	_, err = s.client.PutObject(ctx, in)
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) && (respErr.HTTPStatusCode() == http.StatusPreconditionFailed || respErr.HTTPStatusCode() == http.StatusConflict) {
		return &cloudprovider.Error{Provider: provider, Op: "put", Bucket: bucket, Key: key, Err: fmt.Errorf("%w: %v", cloudprovider.ErrAlreadyExists, err)}
	}
	return s.wrap("put", bucket, key, err)
}

// PutObject streams body with a multipart upload (a single PUT when it is under 8 MiB).
func (s *ObjectStore) PutObject(ctx context.Context, bucket, key string, body io.Reader) error {
	if err := cloudprovider.CheckBucket(provider, "put", bucket); err != nil {
		return err
	}
	in := &transfermanager.UploadObjectInput{
		Bucket: aws.String(bucket),
		Key:    aws.String(key),
		// Hide any io.Seeker so that the upload streams instead of measuring the body.
		Body: struct{ io.Reader }{body},
	}
	if s.kmsKeyID != "" {
		in.ServerSideEncryption = "aws:kms"
		in.SSEKMSKeyID = aws.String(s.kmsKeyID)
	}
	_, err := s.uploader.UploadObject(ctx, in)
	return s.wrap("put", bucket, key, err)
}

// GetObject opens bucket/key.
func (s *ObjectStore) GetObject(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	if err := cloudprovider.CheckBucket(provider, "get", bucket); err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, s.wrap("get", bucket, key, err)
	}
	return out.Body, nil
}

// ListObjects lists every key under prefix.
func (s *ObjectStore) ListObjects(ctx context.Context, bucket, prefix string) ([]string, error) {
	if err := cloudprovider.CheckBucket(provider, "list", bucket); err != nil {
		return nil, err
	}
	var ret []string
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(bucket), Prefix: aws.String(prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s.wrap("list", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			ret = append(ret, aws.ToString(o.Key))
		}
	}
	sort.Strings(ret)
	return ret, nil
}

// DeleteObject deletes bucket/key; S3 itself treats a missing key as success.
func (s *ObjectStore) DeleteObject(ctx context.Context, bucket, key string) error {
	if err := cloudprovider.CheckBucket(provider, "delete", bucket); err != nil {
		return err
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil && errors.Is(s.wrap("delete", bucket, key, err), cloudprovider.ErrNotFound) {
		return nil
	}
	return s.wrap("delete", bucket, key, err)
}

// CreateSignedURL pre-signs a GET of bucket/key valid for ttl (at most 7 days on AWS).
func (s *ObjectStore) CreateSignedURL(ctx context.Context, bucket, key string, ttl time.Duration) (string, error) {
	if err := cloudprovider.CheckBucket(provider, "sign", bucket); err != nil {
		return "", err
	}
	if ttl <= 0 {
		return "", &cloudprovider.Error{Provider: provider, Op: "sign", Bucket: bucket, Key: key,
			Err: fmt.Errorf("ttl must be positive, got %s", ttl)}
	}
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)},
		s3.WithPresignExpires(ttl))
	if err != nil {
		return "", s.wrap("sign", bucket, key, err)
	}
	return req.URL, nil
}
