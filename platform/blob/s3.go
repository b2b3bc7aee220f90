package blob

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config is where an S3-compatible store is and how to reach it. The connection is always
// TLS: the objects are residents' photos.
type S3Config struct {
	// Endpoint is the store's host[:port], e.g. "oss-cn-nanning.example.com" or
	// "minio.storage:9000".
	Endpoint string
	// Bucket holds the objects; it must exist.
	Bucket string
	// Region is the bucket's region ("us-east-1" when the store has none).
	Region string
	// Prefix, when set, is put before every key ("jiangnan/"), so districts can share a bucket.
	Prefix string
	// AccessKeyID and SecretAccessKey sign the requests (AWS signature v4).
	AccessKeyID, SecretAccessKey string
	// RootCAs verify the store's certificate; nil means the system's roots. A district whose
	// store has a certificate from its own CA sets it.
	RootCAs *x509.CertPool
}

// S3 is a Store in a bucket of an S3-compatible object store.
type S3 struct {
	client *minio.Client
	bucket string
	prefix string
}

// s3Timeout bounds each call to the store: a photo is a few MiB, and a hung store must not
// hold an RPC for ever.
const s3Timeout = 30 * time.Second

// NewS3 connects to the bucket of cfg and checks that it exists.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	switch {
	case cfg.Endpoint == "":
		return nil, errors.New("blob: s3: no endpoint")
	case strings.Contains(cfg.Endpoint, "/"):
		return nil, fmt.Errorf("blob: s3: endpoint %q: host[:port] only, no scheme or path (TLS is always on)", cfg.Endpoint)
	case cfg.Bucket == "":
		return nil, errors.New("blob: s3: no bucket")
	case cfg.AccessKeyID == "" || cfg.SecretAccessKey == "":
		return nil, errors.New("blob: s3: no credentials (an access key id and a secret access key)")
	}
	if cfg.Prefix != "" {
		if err := CheckKey(strings.TrimSuffix(cfg.Prefix, "/")); err != nil {
			return nil, fmt.Errorf("blob: s3: prefix: %w", err)
		}
		cfg.Prefix = strings.TrimSuffix(cfg.Prefix, "/") + "/"
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: cfg.RootCAs}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(cfg.AccessKeyID, cfg.SecretAccessKey, ""),
		Secure:    true,
		Region:    cfg.Region,
		Transport: tr,
		// A few quick retries, not the library's ten: the caller (an RPC) has a deadline.
		MaxRetries: 3,
	})
	if err != nil {
		return nil, fmt.Errorf("blob: s3 %s: %w", cfg.Endpoint, err)
	}
	cctx, cancel := context.WithTimeout(ctx, s3Timeout)
	defer cancel()
	ok, err := client.BucketExists(cctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("blob: s3 %s: bucket %s: %w", cfg.Endpoint, cfg.Bucket, err)
	}
	if !ok {
		return nil, fmt.Errorf("blob: s3 %s: bucket %s does not exist", cfg.Endpoint, cfg.Bucket)
	}
	return &S3{client: client, bucket: cfg.Bucket, prefix: cfg.Prefix}, nil
}

func (s *S3) object(key string) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	return s.prefix + key, nil
}

// Put implements Store.
func (s *S3) Put(ctx context.Context, key string, data []byte, contentType string) error {
	name, err := s.object(key)
	if err != nil {
		return err
	}
	if err := checkContentType(contentType); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s3Timeout)
	defer cancel()
	if _, err := s.client.PutObject(ctx, s.bucket, name, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: contentType}); err != nil {
		return fmt.Errorf("blob: put %s: %w", key, err)
	}
	return nil
}

// Get implements Store.
func (s *S3) Get(ctx context.Context, key string) (Object, error) {
	name, err := s.object(key)
	if err != nil {
		return Object{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, s3Timeout)
	defer cancel()
	obj, err := s.client.GetObject(ctx, s.bucket, name, minio.GetObjectOptions{})
	if err != nil {
		return Object{}, s.getErr(key, err)
	}
	defer obj.Close()
	// The object's metadata arrives with the first read; Stat makes that request.
	info, err := obj.Stat()
	if err != nil {
		return Object{}, s.getErr(key, err)
	}
	data, err := io.ReadAll(obj)
	if err != nil {
		return Object{}, s.getErr(key, err)
	}
	return Object{Data: data, ContentType: info.ContentType}, nil
}

func (s *S3) getErr(key string, err error) error {
	if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
		return ErrNotFound
	}
	return fmt.Errorf("blob: get %s: %w", key, err)
}

// Delete implements Store.
func (s *S3) Delete(ctx context.Context, key string) error {
	name, err := s.object(key)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s3Timeout)
	defer cancel()
	if err := s.client.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{}); err != nil &&
		minio.ToErrorResponse(err).Code != minio.NoSuchKey {
		return fmt.Errorf("blob: delete %s: %w", key, err)
	}
	return nil
}
