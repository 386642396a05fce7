package s3store_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The S3 test server accepts any signature, so these tests check every
// request the client sends with a verifier written from the SigV4
// specification, independent of the client's signer (sigv4.go).

// uriEncode is SigV4's UriEncode: unreserved characters stay, everything
// else is %XX with upper-case hex; '/' stays only when keepSlash.
func uriEncode(s string, keepSlash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
			b.WriteByte(c)
		case c == '/' && keepSlash:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// verifySigV4 checks r's Authorization header against secret; body is the
// request's payload.
func verifySigV4(r *http.Request, body []byte, secret string) error {
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return fmt.Errorf("not a SigV4 authorization: %q", auth)
	}
	fields := map[string]string{}
	for _, f := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		fields[k] = v
	}
	credential := strings.SplitN(fields["Credential"], "/", 2)
	if len(credential) != 2 {
		return fmt.Errorf("bad credential %q", fields["Credential"])
	}
	scope := credential[1]
	scopeParts := strings.Split(scope, "/")
	if len(scopeParts) != 4 || scopeParts[2] != "s3" || scopeParts[3] != "aws4_request" {
		return fmt.Errorf("bad scope %q", scope)
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if sum := sha256.Sum256(body); payload != hex.EncodeToString(sum[:]) {
		return fmt.Errorf("x-amz-content-sha256 %q is not the body's hash", payload)
	}

	var query []string
	for k, vs := range r.URL.Query() {
		for _, v := range vs {
			query = append(query, uriEncode(k, false)+"="+uriEncode(v, false))
		}
	}
	sort.Strings(query)
	var headers strings.Builder
	for _, h := range strings.Split(fields["SignedHeaders"], ";") {
		v := r.Header.Get(h)
		if h == "host" {
			v = r.Host
		}
		headers.WriteString(h + ":" + strings.Join(strings.Fields(v), " ") + "\n")
	}
	canonical := strings.Join([]string{
		r.Method, uriEncode(r.URL.Path, true), strings.Join(query, "&"),
		headers.String(), fields["SignedHeaders"], payload,
	}, "\n")
	sum := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + r.Header.Get("X-Amz-Date") + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	key := hmacSHA256([]byte("AWS4"+secret), scopeParts[0])
	for _, part := range scopeParts[1:] {
		key = hmacSHA256(key, part)
	}
	if want := hex.EncodeToString(hmacSHA256(key, toSign)); want != fields["Signature"] {
		return fmt.Errorf("signature mismatch for %s %s:\n%s", r.Method, r.URL, canonical)
	}
	return nil
}

// TestVerifierMatchesAWSExample checks the verifier itself on the GET
// Object example of the AWS SigV4 documentation.
func TestVerifierMatchesAWSExample(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "https://examplebucket.s3.amazonaws.com/test.txt", nil)
	r.Header.Set("Range", "bytes=0-9")
	r.Header.Set("X-Amz-Content-Sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	r.Header.Set("X-Amz-Date", "20130524T000000Z")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"+
		"SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
	require.NoError(t, verifySigV4(r, nil, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"))
	assert.Error(t, verifySigV4(r, nil, "another secret"))
}

// TestEveryRequestIsSigned runs each operation through a proxy that
// verifies the signature before the S3 server sees the request.
func TestEveryRequestIsSigned(t *testing.T) {
	ctx := context.Background()
	c, s3 := startS3(t)
	target, err := url.Parse(s3.Endpoint())
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var mu sync.Mutex
	var checked int
	var failures []string
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		checked++
		if err := verifySigV4(r, body, s3.SecretKey()); err != nil {
			failures = append(failures, err.Error())
			mu.Unlock()
			http.Error(w, "<Error><Code>SignatureDoesNotMatch</Code></Error>", http.StatusForbidden)
			return
		}
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(server.Close)
	c.Endpoint = server.URL
	c.PartSize = 5 << 20
	c.PageSize = 1

	keys := []string{"prod/synapse-backups/20260101000000000000.tar.gz.gpg", "odd key/with spaces+plus=eq&amp~tilde"}
	for _, k := range keys {
		_, err := c.Put(ctx, k, bytes.NewReader([]byte("small")), map[string]string{"unit": "synapse/0"})
		require.NoError(t, err, k)
		_, err = c.Head(ctx, k)
		require.NoError(t, err, k)
		body, _, err := c.Get(ctx, k)
		require.NoError(t, err, k)
		body.Close()
	}
	_, err = c.Put(ctx, "big", bytes.NewReader(make([]byte, 6<<20)), nil)
	require.NoError(t, err)
	objects, err := c.List(ctx, "")
	require.NoError(t, err)
	assert.Len(t, objects, 3)
	objects, err = c.List(ctx, "prod/synapse-backups/")
	require.NoError(t, err)
	assert.Len(t, objects, 1)
	for _, k := range append(keys, "big") {
		require.NoError(t, c.Delete(ctx, k))
	}
	assert.Empty(t, failures)
	assert.Greater(t, checked, 15)
}
