package s3store_test

import (
	"bytes"
	"errors"
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/oncall/pager/store"
	"github.com/oncall/pager/store/s3store"
	"github.com/oncall/pager/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _ := storetest.NewS3(t)
		return s
	})
}

// The contract again through a client built the way the app builds it:
// NewClient over HTTPS, endpoint and CA from the environment, SDK retries on.
func TestContractNewClientTLS(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		srv := storetest.StartS3TLS(t)
		srv.Setenv(t)
		c, err := s3store.NewClient(t.Context(), s3store.Options{PathStyle: true})
		if err != nil {
			t.Fatal(err)
		}
		return s3store.New(c, srv.Bucket)
	})
}

func TestString(t *testing.T) {
	srv := storetest.StartS3(t)
	if got := srv.Store().String(); got != "s3://"+srv.Bucket {
		t.Fatalf("String() = %q", got)
	}
}

// An outage must surface as an error callers cannot mistake for "absent" or
// "lost the race", and the store must work again once S3 is back.
func TestOutage(t *testing.T) {
	s, fault := storetest.NewS3(t)
	ctx := t.Context()
	etag, err := s.Put(ctx, "cfg.json", []byte("v1"), store.Cond{})
	if err != nil {
		t.Fatal(err)
	}

	fault.Down()
	checkOutage := func(op string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s during an outage succeeded", op)
		}
		for _, sentinel := range []error{store.ErrNotFound, store.ErrPrecondition, store.ErrNotModified} {
			if errors.Is(err, sentinel) {
				t.Fatalf("%s during an outage = %v, which reads as %v", op, err, sentinel)
			}
		}
	}
	_, err = s.Get(ctx, "cfg.json")
	checkOutage("Get", err)
	_, err = s.Get(ctx, "missing")
	checkOutage("Get of a missing key", err)
	_, err = s.GetIfChanged(ctx, "cfg.json", etag)
	checkOutage("GetIfChanged", err)
	_, err = s.Put(ctx, "cfg.json", []byte("v2"), store.Cond{IfMatch: etag})
	checkOutage("Put", err)
	_, err = s.Put(ctx, "new", []byte("n"), store.Cond{IfNoneMatch: true})
	checkOutage("create", err)
	_, err = s.List(ctx, "")
	checkOutage("List", err)
	checkOutage("Delete", s.Delete(ctx, "cfg.json"))

	fault.Up()
	obj, err := s.Get(ctx, "cfg.json")
	if err != nil || string(obj.Data) != "v1" {
		t.Fatalf("after the outage Get = %q, %v; want the untouched v1", obj.Data, err)
	}
	if _, err := s.Put(ctx, "cfg.json", []byte("v2"), store.Cond{IfMatch: etag}); err != nil {
		t.Fatalf("after the outage Put: %v", err)
	}
}

func TestFailNextAndRequestCounts(t *testing.T) {
	s, fault := storetest.NewS3(t)
	ctx := t.Context()
	if _, err := s.Put(ctx, "k", []byte("v"), store.Cond{}); err != nil {
		t.Fatal(err)
	}
	fault.ResetRequests()
	fault.FailNext(2)
	_, err1 := s.Get(ctx, "k")
	err2 := s.Delete(ctx, "k")
	_, err3 := s.Get(ctx, "k")
	if err1 == nil || err2 == nil || err3 != nil {
		t.Fatalf("FailNext(2): %v, %v, %v; want two failures then success", err1, err2, err3)
	}
	want := map[string]int{"GET": 2, "DELETE": 1}
	if got := fault.Requests(); !maps.Equal(got, want) {
		t.Fatalf("Requests() = %v, want %v", got, want)
	}
	if fault.Total() != 3 {
		t.Fatalf("Total() = %d, want 3", fault.Total())
	}
}

// A wrong bucket name is a 404 too; it must not look like an empty store.
func TestMissingBucketIsNotNotFound(t *testing.T) {
	srv := storetest.StartS3(t)
	s := s3store.New(srv.Client(), "no-such-bucket")
	_, err := s.Get(t.Context(), "k")
	if err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get from a missing bucket = %v, want a non-ErrNotFound error", err)
	}
	if err := s.Delete(t.Context(), "k"); err == nil {
		t.Fatal("Delete from a missing bucket succeeded")
	}
}

func TestNewClientEndpointFromEnv(t *testing.T) {
	srv := storetest.StartS3(t)
	srv.Setenv(t)
	c, err := s3store.NewClient(t.Context(), s3store.Options{PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	s := s3store.New(c, srv.Bucket)
	if _, err := s.Put(t.Context(), "via-env", []byte("x"), store.Cond{IfNoneMatch: true}); err != nil {
		t.Fatalf("Put through AWS_ENDPOINT_URL_S3: %v", err)
	}
	if srv.Fault.Requests()["PUT"] != 1 {
		t.Fatalf("the fake server saw %v; the client went elsewhere", srv.Fault.Requests())
	}
}

func TestNewClientEndpointOptionWins(t *testing.T) {
	decoy := storetest.StartS3(t)
	decoy.Setenv(t)
	srv := storetest.StartS3(t)
	c, err := s3store.NewClient(t.Context(), s3store.Options{Endpoint: srv.URL, PathStyle: true, Region: "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Options().Region; got != "eu-west-1" {
		t.Fatalf("Region = %q, want the option's eu-west-1", got)
	}
	if _, err := s3store.New(c, srv.Bucket).Put(t.Context(), "k", []byte("x"), store.Cond{}); err != nil {
		t.Fatal(err)
	}
	if srv.Fault.Total() != 1 || decoy.Fault.Total() != 0 {
		t.Fatalf("requests: option endpoint %d, env endpoint %d; want 1, 0", srv.Fault.Total(), decoy.Fault.Total())
	}
}

func TestNewClientDefaultRegion(t *testing.T) {
	srv := storetest.StartS3(t)
	srv.Setenv(t)
	t.Setenv("AWS_REGION", "")
	c, err := s3store.NewClient(t.Context(), s3store.Options{PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Options().Region; got != "us-east-1" {
		t.Fatalf("Region = %q, want us-east-1", got)
	}
	if _, err := s3store.New(c, srv.Bucket).List(t.Context(), ""); err != nil {
		t.Fatalf("List with the default region: %v", err)
	}
}

// AWS_CA_BUNDLE is honoured by the SDK itself; without it the self-signed
// server is refused, so the bundle is what made the call work.
func TestNewClientCABundle(t *testing.T) {
	srv := storetest.StartS3TLS(t)
	srv.Setenv(t)
	c, err := s3store.NewClient(t.Context(), s3store.Options{PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(rand.Uint32())
	}
	s := s3store.New(c, srv.Bucket)
	if _, err := s.Put(t.Context(), "rec/1.bin", data, store.Cond{}); err != nil {
		t.Fatalf("Put over TLS: %v", err)
	}
	obj, err := s.Get(t.Context(), "rec/1.bin")
	if err != nil {
		t.Fatal(err)
	}
	// With the SDK's default checksums this is where an aws-chunked body
	// would come back instead of the bytes written.
	if !bytes.Equal(obj.Data, data) {
		t.Fatalf("read back %d bytes that differ from the %d written", len(obj.Data), len(data))
	}

	t.Setenv("AWS_CA_BUNDLE", "")
	t.Setenv("AWS_MAX_ATTEMPTS", "1") // a refused certificate is retried with backoff otherwise
	c, err = s3store.NewClient(t.Context(), s3store.Options{PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s3store.New(c, srv.Bucket).Get(t.Context(), "rec/1.bin"); err == nil {
		t.Fatal("TLS to a self-signed server worked without AWS_CA_BUNDLE; the test proves nothing")
	}
}

func TestNewClientChecksumModes(t *testing.T) {
	srv := storetest.StartS3(t)
	srv.Setenv(t)
	ctx := t.Context()

	c, err := s3store.NewClient(ctx, s3store.Options{PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	if o := c.Options(); o.RequestChecksumCalculation != aws.RequestChecksumCalculationWhenRequired ||
		o.ResponseChecksumValidation != aws.ResponseChecksumValidationWhenRequired {
		t.Fatalf("custom endpoint: checksums %v/%v, want when_required", o.RequestChecksumCalculation, o.ResponseChecksumValidation)
	}

	t.Setenv("AWS_REQUEST_CHECKSUM_CALCULATION", "when_supported")
	c, err = s3store.NewClient(ctx, s3store.Options{PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	if o := c.Options(); o.RequestChecksumCalculation != aws.RequestChecksumCalculationWhenSupported ||
		o.ResponseChecksumValidation != aws.ResponseChecksumValidationWhenRequired {
		t.Fatalf("explicit env: checksums %v/%v, want the env's when_supported for requests", o.RequestChecksumCalculation, o.ResponseChecksumValidation)
	}

	t.Setenv("AWS_REQUEST_CHECKSUM_CALCULATION", "")
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	c, err = s3store.NewClient(ctx, s3store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if o := c.Options(); o.RequestChecksumCalculation != aws.RequestChecksumCalculationWhenSupported {
		t.Fatalf("AWS endpoint: request checksums %v, want the SDK default when_supported", o.RequestChecksumCalculation)
	}
}

func BenchmarkS3GetIfChanged(b *testing.B) {
	s, _ := storetest.NewS3(b)
	etag, err := s.Put(b.Context(), "cfg.json", bytes.Repeat([]byte("x"), 16<<10), store.Cond{})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.GetIfChanged(b.Context(), "cfg.json", etag); !errors.Is(err, store.ErrNotModified) {
			b.Fatal(err)
		}
	}
}

func BenchmarkS3Put(b *testing.B) {
	s, _ := storetest.NewS3(b)
	data := bytes.Repeat([]byte("x"), 4<<10)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := s.Put(b.Context(), "bench", data, store.Cond{}); err != nil {
			b.Fatal(err)
		}
	}
}
