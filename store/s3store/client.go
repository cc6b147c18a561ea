package s3store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// DefaultRegion is used when neither Options nor the environment name one;
// S3-compatible servers accept any region but the SDK refuses to sign
// without one.
const DefaultRegion = "us-east-1"

// Options are the few settings the SDK's environment handling cannot express
// or that the pager's own config overrides. Everything else (credentials
// chain, AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL_S3, AWS_CA_BUNDLE,
// AWS_REQUEST_CHECKSUM_CALCULATION, ...) comes from config.LoadDefaultConfig.
type Options struct {
	// Endpoint overrides AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, e.g.
	// "https://minio.internal:9000".
	Endpoint string
	// PathStyle addresses buckets as <endpoint>/<bucket> instead of
	// <bucket>.<endpoint>; most S3-compatible servers need it. The SDK has
	// no environment variable for it.
	PathStyle bool
	// Region overrides AWS_REGION and the shared config profile.
	Region string
}

// NewClient builds an S3 client from the standard AWS configuration chain.
//
// AWS_CA_BUNDLE works because the SDK's default HTTP client is kept (a
// custom one would silently drop the bundle); AWS_ENDPOINT_URL_S3 is applied
// by s3.NewFromConfig from the loaded config sources.
//
// With a custom endpoint (an S3-compatible server) request and response
// checksums drop to "when required" unless AWS_REQUEST_CHECKSUM_CALCULATION /
// AWS_RESPONSE_CHECKSUM_VALIDATION or the profile say otherwise: the SDK's
// default CRC32 trailer (aws-chunked, used over HTTPS) is stored verbatim as
// the object body by servers that do not know it (gofakes3 does this), and
// validating responses logs spurious warnings on 304s that carry checksum
// headers. Real AWS keeps the SDK defaults.
func NewClient(ctx context.Context, o Options) (*s3.Client, error) {
	var load []func(*config.LoadOptions) error
	if o.Region != "" {
		load = append(load, config.WithRegion(o.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("s3store: load AWS config: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	req, resp := explicitChecksums(cfg.ConfigSources)
	return s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		so.UsePathStyle = o.PathStyle
		if so.BaseEndpoint == nil {
			return
		}
		if !req {
			so.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		}
		if !resp {
			so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
	}), nil
}

// explicitChecksums reports whether the environment or the shared config
// profile chose checksum behaviour. LoadDefaultConfig folds "unset" into
// "when supported", so the sources are the only place to tell.
func explicitChecksums(sources []any) (req, resp bool) {
	for _, src := range sources {
		switch c := src.(type) {
		case config.EnvConfig:
			req = req || c.RequestChecksumCalculation != aws.RequestChecksumCalculationUnset
			resp = resp || c.ResponseChecksumValidation != aws.ResponseChecksumValidationUnset
		case config.SharedConfig:
			req = req || c.RequestChecksumCalculation != aws.RequestChecksumCalculationUnset
			resp = resp || c.ResponseChecksumValidation != aws.ResponseChecksumValidationUnset
		}
	}
	return req, resp
}
