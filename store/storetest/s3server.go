package storetest

import (
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/oncall/pager/store"
	"github.com/oncall/pager/store/s3store"
)

// S3Server is an in-process fake S3 (gofakes3, in memory) on a loopback
// httptest server, with a Fault switch in front of it. Everything talks to it
// over real HTTP through the AWS SDK.
type S3Server struct {
	// URL is the endpoint, e.g. "http://127.0.0.1:41234". Buckets must be
	// addressed path-style.
	URL string
	// Bucket already exists and is empty.
	Bucket string
	// Region, AccessKey and SecretKey are what Client signs with; the fake
	// accepts any.
	Region    string
	AccessKey string
	SecretKey string
	// CAFile is a PEM file with the server's certificate when it speaks
	// HTTPS (StartS3TLS), for AWS_CA_BUNDLE; empty otherwise.
	CAFile string
	// Fault controls outages and counts requests.
	Fault *Fault

	http *http.Client // trusts the server's certificate
}

// StartS3 starts a fake S3 server on plain HTTP that stops when t's test
// ends.
func StartS3(t testing.TB) *S3Server { return startS3(t, false) }

// StartS3TLS is StartS3 over HTTPS with a self-signed certificate (see
// CAFile). Over HTTPS the SDK's default checksum mode streams aws-chunked
// bodies, which is the case that breaks S3-compatible servers.
func StartS3TLS(t testing.TB) *S3Server { return startS3(t, true) }

func startS3(t testing.TB, useTLS bool) *S3Server {
	t.Helper()
	backend := s3mem.New()
	const bucket = "pager-test"
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatalf("storetest: create bucket: %v", err)
	}
	fault := NewFault(gofakes3.New(backend).Server())
	srv := httptest.NewUnstartedServer(fault)
	// Tests that check a client refuses the self-signed certificate would
	// otherwise print the server's handshake errors.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if useTLS {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	s := &S3Server{
		URL:       srv.URL,
		Bucket:    bucket,
		Region:    s3store.DefaultRegion,
		AccessKey: "storetest",
		SecretKey: "storetest-secret",
		Fault:     fault,
		http:      srv.Client(),
	}
	if useTLS {
		s.CAFile = filepath.Join(t.TempDir(), "fake-s3-ca.pem")
		block := &pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}
		if err := os.WriteFile(s.CAFile, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatalf("storetest: write CA file: %v", err)
		}
	}
	return s
}

// Client returns an SDK client for the server that ignores the environment
// and shared config files. Retries are off, so one store call is exactly one
// HTTP request and FailNext(1) fails exactly one call. Checksums are "when
// required", as s3store.NewClient sets them for custom endpoints.
func (s *S3Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:                     s.Region,
		BaseEndpoint:               aws.String(s.URL),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		Retryer:                    aws.NopRetryer{},
		HTTPClient:                 s.http,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// Store returns an s3store on the server's bucket using Client.
func (s *S3Server) Store() *s3store.Store {
	return s3store.New(s.Client(), s.Bucket)
}

// Setenv points the standard AWS environment at the server for the rest of
// the test, isolating it from the developer's own ~/.aws files, so code that
// builds its client with s3store.NewClient can be tested end to end.
// AWS_CA_BUNDLE is set for a TLS server. Path style has no environment
// variable; URL is an IP address, for which the SDK picks path style itself,
// while a hostname endpoint needs s3store.Options.PathStyle.
func (s *S3Server) Setenv(t testing.TB) {
	t.Helper()
	none := filepath.Join(t.TempDir(), "no-such-aws-file")
	for k, v := range map[string]string{
		"AWS_CA_BUNDLE":                    s.CAFile,
		"AWS_ENDPOINT_URL":                 "",
		"AWS_DEFAULT_REGION":               "",
		"AWS_REQUEST_CHECKSUM_CALCULATION": "",
		"AWS_RESPONSE_CHECKSUM_VALIDATION": "",
		"AWS_ENDPOINT_URL_S3":              s.URL,
		"AWS_REGION":                       s.Region,
		"AWS_ACCESS_KEY_ID":                s.AccessKey,
		"AWS_SECRET_ACCESS_KEY":            s.SecretKey,
		"AWS_SESSION_TOKEN":                "",
		"AWS_PROFILE":                      "",
		"AWS_CONFIG_FILE":                  none,
		"AWS_SHARED_CREDENTIALS_FILE":      none,
		"AWS_EC2_METADATA_DISABLED":        "true",
	} {
		t.Setenv(k, v)
	}
}

// NewS3 starts a fake S3 server and returns a store on it plus its fault
// switch. It has the shape Run wants: storetest.Run(t, func(t *testing.T)
// store.Store { s, _ := storetest.NewS3(t); return s }).
func NewS3(t testing.TB) (store.Store, *Fault) {
	t.Helper()
	srv := StartS3(t)
	return srv.Store(), srv.Fault
}
