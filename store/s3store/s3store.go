package s3store

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/oncall/pager/store"
)

// Store keeps every object in one bucket under its key verbatim.
type Store struct {
	client *s3.Client
	bucket string
}

var _ store.Store = (*Store)(nil)

// New wraps client; see NewClient for building one from the environment.
func New(client *s3.Client, bucket string) *Store {
	return &Store{client: client, bucket: bucket}
}

// String names the store for logs.
func (s *Store) String() string { return "s3://" + s.bucket }

// Get reads key; store.ErrNotFound when absent.
func (s *Store) Get(ctx context.Context, key string) (store.Object, error) {
	return s.get(ctx, key, "")
}

// GetIfChanged sends If-None-Match so an unchanged object costs a 304 and no
// body.
func (s *Store) GetIfChanged(ctx context.Context, key, etag string) (store.Object, error) {
	return s.get(ctx, key, etag)
}

func (s *Store) get(ctx context.Context, key, etag string) (store.Object, error) {
	if key == "" {
		return store.Object{}, fmt.Errorf("s3store: get: empty key")
	}
	in := &s3.GetObjectInput{Bucket: &s.bucket, Key: &key}
	if etag != "" {
		in.IfNoneMatch = &etag
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		return store.Object{}, mapErr(err, "get", key)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return store.Object{}, fmt.Errorf("s3store: get %q: read body: %w", key, err)
	}
	obj := store.Object{
		Key:      key,
		Data:     data,
		ETag:     aws.ToString(out.ETag),
		Modified: aws.ToTime(out.LastModified),
	}
	if etag != "" && obj.ETag == etag {
		// A server that ignores If-None-Match still must not hand the caller
		// the version it already has.
		return store.Object{}, store.ErrNotModified
	}
	return obj, nil
}

// Put writes data under key. cond maps to S3's conditional writes
// (If-Match / If-None-Match: *), so the check and the write are one atomic
// step on the server.
func (s *Store) Put(ctx context.Context, key string, data []byte, cond store.Cond) (string, error) {
	if key == "" {
		return "", fmt.Errorf("s3store: put: empty key")
	}
	in := &s3.PutObjectInput{
		Bucket:        &s.bucket,
		Key:           &key,
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
	}
	if cond.IfMatch != "" {
		in.IfMatch = aws.String(cond.IfMatch)
	}
	if cond.IfNoneMatch {
		in.IfNoneMatch = aws.String("*")
	}
	out, err := s.client.PutObject(ctx, in)
	if err != nil {
		return "", mapErr(err, "put", key)
	}
	if out.ETag != nil {
		return *out.ETag, nil
	}
	// Some S3-compatible servers omit the ETag on PUT; a single-part upload's
	// ETag is the MD5 of the body.
	sum := md5.Sum(data)
	return `"` + hex.EncodeToString(sum[:]) + `"`, nil
}

// List pages through ListObjectsV2; S3 already orders keys by UTF-8 bytes,
// the sort only guards servers that do not.
func (s *Store) List(ctx context.Context, prefix string) ([]store.Info, error) {
	in := &s3.ListObjectsV2Input{Bucket: &s.bucket}
	if prefix != "" {
		in.Prefix = &prefix
	}
	var out []store.Info
	p := s3.NewListObjectsV2Paginator(s.client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, mapErr(err, "list", prefix)
		}
		for _, o := range page.Contents {
			out = append(out, store.Info{
				Key:      aws.ToString(o.Key),
				ETag:     aws.ToString(o.ETag),
				Size:     aws.ToInt64(o.Size),
				Modified: aws.ToTime(o.LastModified),
			})
		}
	}
	slices.SortFunc(out, func(a, b store.Info) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Delete removes key; S3 already answers 204 for absent keys.
func (s *Store) Delete(ctx context.Context, key string) error {
	if key == "" {
		return fmt.Errorf("s3store: delete: empty key")
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		err = mapErr(err, "delete", key)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}
	return nil
}
