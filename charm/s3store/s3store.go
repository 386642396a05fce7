// Package s3store is the small S3 client the backup actions use: put
// (single or multipart, in bounded memory), get, head, list (ListObjectsV2)
// and delete, signed with AWS Signature Version 4 (sigv4.go).
// Path-style and virtual-host-style addressing are both supported.
//
// Credentials travel only in the Authorization header: they never appear
// in a URL, a log line or an error message.
package s3store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ErrNotFound is returned for a key (or bucket) that does not exist.
var ErrNotFound = errors.New("not found")

// DefaultPartSize is the multipart part size, and the most a Put holds in
// memory at once.
const DefaultPartSize = 16 << 20

// Client talks to one bucket.
type Client struct {
	// Endpoint is the server's URL (scheme and host, optionally a path);
	// empty means AWS (https://s3.<region>.amazonaws.com).
	Endpoint string
	// Region signs the requests; us-east-1 when empty.
	Region string
	// Bucket is the bucket every call works in.
	Bucket string
	// PathStyle addresses the bucket as <endpoint>/<bucket>/ rather than
	// <bucket>.<endpoint host>/.
	PathStyle bool
	// AccessKey and SecretKey sign the requests.
	AccessKey, SecretKey string
	// HTTP sends the requests; http.DefaultClient when nil.
	HTTP *http.Client
	// PartSize is the multipart part size; DefaultPartSize when zero. S3
	// refuses parts below 5 MiB except the last.
	PartSize int
	// PageSize caps the keys of one ListObjectsV2 page; the server's
	// default (1000) when zero.
	PageSize int
}

// Object describes one stored object.
type Object struct {
	Key          string
	Size         int64
	LastModified time.Time
	// Metadata holds the x-amz-meta-* headers (lower-case names without the
	// prefix); only Head and Get fill it.
	Metadata map[string]string
}

// Error is a response S3 answered with an error status.
type Error struct {
	Op      string
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("s3 %s: HTTP %d", e.Op, e.Status)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

func (e *Error) Unwrap() error {
	if e.Status == http.StatusNotFound {
		return ErrNotFound
	}
	return nil
}

var emptyHash = hashHex(nil)

func hashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (c *Client) region() string {
	if c.Region == "" {
		return "us-east-1"
	}
	return c.Region
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP == nil {
		return http.DefaultClient
	}
	return c.HTTP
}

// URL returns the URL of key (key "" is the bucket itself) with query.
func (c *Client) URL(key string, query url.Values) (*url.URL, error) {
	endpoint := c.Endpoint
	if endpoint == "" {
		endpoint = "https://s3." + c.region() + ".amazonaws.com"
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("s3 endpoint %q is not a URL", endpoint)
	}
	base := strings.TrimSuffix(u.Path, "/")
	if c.PathStyle {
		u.Path = base + "/" + c.Bucket + "/" + key
	} else {
		u.Host = c.Bucket + "." + u.Host
		u.Path = base + "/" + key
	}
	u.RawPath = ""
	u.RawQuery = query.Encode()
	return u, nil
}

// request builds, signs and sends one request. body is in memory so that
// its hash is signed too.
func (c *Client) request(ctx context.Context, op, method, key string, query url.Values, header http.Header, body []byte) (*http.Response, error) {
	u, err := c.URL(key, query)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("s3 %s: %w", op, err)
	}
	// The signer signs the escaped path as sent.
	req.URL.RawPath = uriEncode(u.Path, true)
	req.ContentLength = int64(len(body))
	if body == nil {
		req.Body = http.NoBody
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	payload := emptyHash
	if len(body) > 0 {
		payload = hashHex(body)
	}
	req.Header.Set("X-Amz-Content-Sha256", payload)
	sign(req, c.AccessKey, c.SecretKey, c.region(), time.Now())
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("s3 %s: %w", op, redactURL(err))
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		return nil, readError(op, resp)
	}
	return resp, nil
}

// redactURL keeps transport errors free of query strings (upload ids are
// not secret, but nothing in a URL should need judging).
func redactURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

func readError(op string, resp *http.Response) error {
	e := &Error{Op: op, Status: resp.StatusCode}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var body struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	if xml.Unmarshal(data, &body) == nil {
		e.Code, e.Message = body.Code, body.Message
	}
	return e
}

func metaHeader(meta map[string]string) http.Header {
	h := http.Header{}
	for k, v := range meta {
		h.Set("X-Amz-Meta-"+k, v)
	}
	return h
}

func objectFrom(key string, resp *http.Response) *Object {
	o := &Object{Key: key, Size: resp.ContentLength, Metadata: map[string]string{}}
	if t, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		o.LastModified = t
	}
	for k, vs := range resp.Header {
		if name, ok := strings.CutPrefix(strings.ToLower(k), "x-amz-meta-"); ok && len(vs) > 0 {
			o.Metadata[name] = vs[0]
		}
	}
	return o
}

// Put stores everything r yields under key, with metadata (x-amz-meta-*),
// and returns the number of bytes stored. Up to PartSize it is one PUT;
// beyond, a multipart upload that holds one part in memory at a time and
// is aborted on error.
func (c *Client) Put(ctx context.Context, key string, r io.Reader, meta map[string]string) (int64, error) {
	partSize := c.PartSize
	if partSize <= 0 {
		partSize = DefaultPartSize
	}
	buf := make([]byte, partSize)
	n, err := io.ReadFull(r, buf)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		resp, err := c.request(ctx, "put "+key, http.MethodPut, key, nil, metaHeader(meta), buf[:n])
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return int64(n), nil
	}
	if err != nil {
		return 0, fmt.Errorf("s3 put %s: read: %w", key, err)
	}
	uploadID, err := c.createMultipart(ctx, key, meta)
	if err != nil {
		return 0, err
	}
	size, err := c.uploadParts(ctx, key, uploadID, buf, n, r)
	if err != nil {
		// Best effort, on a fresh context: the caller's may be done.
		abortCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if resp, aerr := c.request(abortCtx, "abort upload", http.MethodDelete, key, url.Values{"uploadId": {uploadID}}, nil, nil); aerr == nil {
			resp.Body.Close()
		}
		return 0, err
	}
	return size, nil
}

func (c *Client) createMultipart(ctx context.Context, key string, meta map[string]string) (string, error) {
	resp, err := c.request(ctx, "create upload "+key, http.MethodPost, key, url.Values{"uploads": {""}}, metaHeader(meta), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		UploadID string `xml:"UploadId"`
	}
	if err := xml.NewDecoder(resp.Body).Decode(&out); err != nil || out.UploadID == "" {
		return "", fmt.Errorf("s3 create upload %s: no upload id in the answer", key)
	}
	return out.UploadID, nil
}

type completedPart struct {
	PartNumber int    `xml:"PartNumber"`
	ETag       string `xml:"ETag"`
}

// uploadParts sends buf[:n] as part 1, then the rest of r part by part,
// and completes the upload.
func (c *Client) uploadParts(ctx context.Context, key, uploadID string, buf []byte, n int, r io.Reader) (int64, error) {
	var parts []completedPart
	var size int64
	for number := 1; n > 0; number++ {
		q := url.Values{"partNumber": {strconv.Itoa(number)}, "uploadId": {uploadID}}
		resp, err := c.request(ctx, fmt.Sprintf("upload part %d of %s", number, key), http.MethodPut, key, q, nil, buf[:n])
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		parts = append(parts, completedPart{PartNumber: number, ETag: resp.Header.Get("ETag")})
		size += int64(n)
		var rerr error
		n, rerr = io.ReadFull(r, buf)
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			return 0, fmt.Errorf("s3 put %s: read: %w", key, rerr)
		}
	}
	body, err := xml.Marshal(struct {
		XMLName xml.Name        `xml:"CompleteMultipartUpload"`
		Parts   []completedPart `xml:"Part"`
	}{Parts: parts})
	if err != nil {
		return 0, err
	}
	resp, err := c.request(ctx, "complete upload "+key, http.MethodPost, key, url.Values{"uploadId": {uploadID}}, nil, body)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	// S3 may answer 200 with an error document once the parts are joined.
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e struct {
		XMLName xml.Name
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	if xml.Unmarshal(data, &e) == nil && e.XMLName.Local == "Error" {
		return 0, &Error{Op: "complete upload " + key, Status: resp.StatusCode, Code: e.Code, Message: e.Message}
	}
	return size, nil
}

// Get opens key for reading; the caller closes the body.
func (c *Client) Get(ctx context.Context, key string) (io.ReadCloser, *Object, error) {
	resp, err := c.request(ctx, "get "+key, http.MethodGet, key, nil, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	return resp.Body, objectFrom(key, resp), nil
}

// Head returns key's size and metadata; ErrNotFound when it does not exist.
func (c *Client) Head(ctx context.Context, key string) (*Object, error) {
	resp, err := c.request(ctx, "head "+key, http.MethodHead, key, nil, nil, nil)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	return objectFrom(key, resp), nil
}

// Delete removes key. S3 answers a missing key with success too.
func (c *Client) Delete(ctx context.Context, key string) error {
	resp, err := c.request(ctx, "delete "+key, http.MethodDelete, key, nil, nil, nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// List returns every object whose key starts with prefix, sorted by key,
// following ListObjectsV2 continuation tokens.
func (c *Client) List(ctx context.Context, prefix string) ([]Object, error) {
	var out []Object
	token := ""
	for page := 1; ; page++ {
		q := url.Values{"list-type": {"2"}, "prefix": {prefix}}
		if c.PageSize > 0 {
			q.Set("max-keys", strconv.Itoa(c.PageSize))
		}
		if token != "" {
			q.Set("continuation-token", token)
		}
		resp, err := c.request(ctx, "list "+prefix, http.MethodGet, "", q, nil, nil)
		if err != nil {
			return nil, err
		}
		var result struct {
			IsTruncated           bool   `xml:"IsTruncated"`
			NextContinuationToken string `xml:"NextContinuationToken"`
			Contents              []struct {
				Key          string `xml:"Key"`
				Size         int64  `xml:"Size"`
				LastModified string `xml:"LastModified"`
			} `xml:"Contents"`
		}
		err = xml.NewDecoder(resp.Body).Decode(&result)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("s3 list %s: page %d: %w", prefix, page, err)
		}
		for _, o := range result.Contents {
			t, _ := time.Parse(time.RFC3339, o.LastModified)
			out = append(out, Object{Key: o.Key, Size: o.Size, LastModified: t})
		}
		if !result.IsTruncated {
			break
		}
		if result.NextContinuationToken == "" || result.NextContinuationToken == token {
			return nil, fmt.Errorf("s3 list %s: page %d is truncated without a new continuation token", prefix, page)
		}
		token = result.NextContinuationToken
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}
