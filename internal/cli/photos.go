package cli

import (
	"context"
	"time"

	"github.com/jiayuan/jiayuan/internal/suite"
	"github.com/jiayuan/jiayuan/platform/blob"
	"github.com/jiayuan/jiayuan/platform/config"
	"github.com/jiayuan/jiayuan/platform/photo"
	"github.com/jiayuan/jiayuan/platform/signedurl"
	"github.com/jiayuan/jiayuan/services/demand"
)

// The photo settings of a service keeping photos (suite.Spec.Photos), and the gateway's
// photo size limit.
const (
	flagPhotoStore   = "photo-store"
	flagPhotoS3Creds = "photo-s3-credentials"
	flagPhotoMax     = "photo-max-bytes"
	flagPhotoURLTTL  = "photo-url-ttl"
	flagPhotoURLKey  = "photo-url-key-file"
	// maxPhotoMax bounds the photo size limit: a photo, not a video.
	maxPhotoMax = 64 << 20
	// maxPhotoURLTTL bounds a link's life: a link is a credential anyone holding it can use.
	maxPhotoURLTTL = 24 * time.Hour
)

// photoValues are the photo settings of `jiayuan serve <service>`.
type photoValues struct {
	store, creds, key *string
	max               *int64
	ttl               *time.Duration
}

// photoFlags declares the photo settings; the store and the link key are required.
func photoFlags(fs *config.FlagSet, s *Settings) *photoValues {
	f := &photoValues{
		store: fs.String(flagPhotoStore, "", "where photos are kept: s3://BUCKET?endpoint=HOST[:PORT]&region=REGION[&prefix=P][&ca_file=PEM] "+
			"(any S3-compatible store, always over TLS), or a directory (file:DIR)"),
		creds: fs.String(flagPhotoS3Creds, "", "file with the S3 credentials, lines ACCESS_KEY_ID=… and SECRET_ACCESS_KEY=… (a Kubernetes Secret mounted as a file); "+
			"empty reads AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY from the environment"),
		max: fs.Int64(flagPhotoMax, photo.DefaultMaxBytes, "largest photo accepted, in bytes"),
		ttl: fs.Duration(flagPhotoURLTTL, demand.DefaultPhotoURLTTL, "how long a signed link to a photo works"),
		key: fs.String(flagPhotoURLKey, "", "file with the key photo links are signed with (base64 of 32 random bytes; more lines: the first signs, all verify); "+
			"a Kubernetes Secret mounted as a file"),
	}
	s.require(flagPhotoStore)
	s.require(flagPhotoURLKey)
	s.files(flagPhotoS3Creds, flagPhotoURLKey)
	return f
}

func checkPhotoMax(p *config.Problems, n int64) {
	if n <= 0 || n > maxPhotoMax {
		p.Addf(flagPhotoMax, "must be between 1 and %d bytes, got %d", maxPhotoMax, n)
	}
}

func (f *photoValues) check(p *config.Problems) {
	p.Check(flagPhotoStore, config.Required(*f.store))
	p.Check(flagPhotoURLKey, config.Required(*f.key))
	checkPhotoMax(p, *f.max)
	if *f.ttl <= 0 || *f.ttl > maxPhotoURLTTL {
		p.Addf(flagPhotoURLTTL, "must be positive and at most %s, got %s", maxPhotoURLTTL, *f.ttl)
	}
}

// open connects to the photo store and reads the link key, errors naming the setting.
func (f *photoValues) open(ctx context.Context) (*suite.Photos, error) {
	store, err := blob.Open(ctx, *f.store, blob.OpenOptions{CredentialsFile: *f.creds})
	if err != nil {
		return nil, &config.SettingError{Flag: flagPhotoStore, Err: err}
	}
	signer, err := signedurl.Load(*f.key)
	if err != nil {
		return nil, &config.SettingError{Flag: flagPhotoURLKey, Err: err}
	}
	return &suite.Photos{Store: store, MaxBytes: *f.max, URLTTL: *f.ttl, Signer: signer}, nil
}
