package s3store

import (
	"errors"
	"fmt"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/oncall/pager/store"
)

// mapErr turns S3 answers that are part of the store contract into its
// sentinels and wraps everything else (outages, auth, a missing bucket) so
// callers never mistake them for "absent" or "lost the race".
func mapErr(err error, op, key string) error {
	var (
		code   string
		status int
	)
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	var sentinel error
	switch {
	case code == "NoSuchBucket":
		// Also a 404, but a misconfigured bucket must not look like an
		// empty store.
	case code == "NoSuchKey" || code == "NotFound" || status == http.StatusNotFound:
		sentinel = store.ErrNotFound
	case code == "PreconditionFailed" || status == http.StatusPreconditionFailed:
		sentinel = store.ErrPrecondition
	case code == "ConditionalRequestConflict":
		// S3 answers 409 when another conditional write to the key is in
		// flight; the caller re-reads exactly as after a 412.
		sentinel = store.ErrPrecondition
	case code == "NotModified" || status == http.StatusNotModified:
		sentinel = store.ErrNotModified
	}
	if sentinel != nil {
		return fmt.Errorf("s3store: %s %q: %w", op, key, sentinel)
	}
	return fmt.Errorf("s3store: %s %q: %w", op, key, err)
}
