package objectstores

import (
	"context"
	"errors"
	"fmt"
	"os"

	"cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"google.golang.org/api/option"
)

// Provider returns the cloudprovider name and Config.backupStorageProvider.config that
// reach s, and the environment variables holding its credentials (set them, e.g. with
// t.Setenv or os.Setenv, before building the ObjectStore).
func (s *Server) Provider() (name string, config map[string]string, env map[string]string) {
	switch s.Kind {
	case S3:
		return "aws", map[string]string{"region": s.Region, "s3Url": s.Endpoint, "s3ForcePathStyle": "true"},
			map[string]string{"AWS_ACCESS_KEY_ID": s.AccessKey, "AWS_SECRET_ACCESS_KEY": s.SecretKey,
				"AWS_SESSION_TOKEN": "", "AWS_PROFILE": "", "AWS_EC2_METADATA_DISABLED": "true"}
	case GCS:
		return "gcp", map[string]string{"storageEndpoint": s.Endpoint}, map[string]string{}
	case Azure:
		return "azure", map[string]string{"storageEndpoint": s.Endpoint},
			map[string]string{"AZURE_STORAGE_ACCOUNT": s.Account, "AZURE_STORAGE_KEY": s.AccountKey,
				"AZURE_STORAGE_CONNECTION_STRING": ""}
	}
	return "", nil, nil
}

// SetEnv sets the credential variables of s in this process.
func (s *Server) SetEnv() error {
	_, _, env := s.Provider()
	for k, v := range env {
		var err error
		if v == "" {
			err = os.Unsetenv(k)
		} else {
			err = os.Setenv(k, v)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// CreateBucket creates bucket (an Azure container) on s; an existing bucket is not an error.
func (s *Server) CreateBucket(ctx context.Context, bucket string) error {
	switch s.Kind {
	case S3:
		c := s3.New(s3.Options{
			Region: s.Region, BaseEndpoint: aws.String(s.Endpoint), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		})
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
		var owned *types.BucketAlreadyOwnedByYou
		var exists *types.BucketAlreadyExists
		if err != nil && !errors.As(err, &owned) && !errors.As(err, &exists) {
			return fmt.Errorf("creating S3 bucket %s: %w", bucket, err)
		}
		return nil
	case GCS:
		c, err := storage.NewClient(ctx, option.WithEndpoint(s.Endpoint+"/storage/v1/"), option.WithoutAuthentication())
		if err != nil {
			return err
		}
		defer c.Close()
		err = c.Bucket(bucket).Create(ctx, "test-project", nil)
		if err != nil {
			if _, aerr := c.Bucket(bucket).Attrs(ctx); aerr == nil {
				return nil
			}
			return fmt.Errorf("creating GCS bucket %s: %w", bucket, err)
		}
		return nil
	case Azure:
		cred, err := azblob.NewSharedKeyCredential(s.Account, s.AccountKey)
		if err != nil {
			return err
		}
		c, err := azblob.NewClientWithSharedKeyCredential(s.Endpoint, cred, nil)
		if err != nil {
			return err
		}
		_, err = c.CreateContainer(ctx, bucket, nil)
		if err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
			return fmt.Errorf("creating Azure container %s: %w", bucket, err)
		}
		return nil
	}
	return fmt.Errorf("unknown kind %q", s.Kind)
}
