package bed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// S3 is an S3-compatible server (gofakes3 with its in-memory backend) served
// over real HTTP on 127.0.0.1 from inside the test process, started by
// StartS3. Clients must use path-style addressing.
//
// gofakes3 is lenient: it accepts any credentials and does not check
// signatures. AccessKey and SecretKey are still generated per server so that
// callers pass realistic values through their configuration.
type S3 struct {
	backend   *s3mem.Backend
	server    *http.Server
	listener  net.Listener
	logFile   *os.File
	accessKey string
	secretKey string
	served    chan struct{}
}

// StartS3 starts an S3 server on a free port of 127.0.0.1. Its request log
// goes to dir/s3.log; objects live in memory and vanish with Stop.
func StartS3(ctx context.Context, dir string) (*S3, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start s3: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("start s3: %w", err)
	}
	logFile, err := os.OpenFile(filepath.Join(dir, "s3.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start s3: %w", err)
	}
	listener, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start s3: %w", err)
	}
	backend := s3mem.New()
	faker := gofakes3.New(backend,
		gofakes3.WithLogger(gofakes3.StdLog(log.New(logFile, "", log.LstdFlags))),
		gofakes3.WithHostBucket(false))
	s := &S3{
		backend:   backend,
		server:    &http.Server{Handler: faker.Server(), ReadHeaderTimeout: 10 * time.Second},
		listener:  listener,
		logFile:   logFile,
		accessKey: "AK" + randomHex(9),
		secretKey: randomHex(20),
		served:    make(chan struct{}),
	}
	go func() {
		defer close(s.served)
		if err := s.server.Serve(listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(logFile, "serve: %v\n", err)
		}
	}()
	return s, nil
}

// Endpoint is the server's URL, http://127.0.0.1:PORT.
func (s *S3) Endpoint() string { return "http://" + s.listener.Addr().String() }

// Host is the address the server listens on: 127.0.0.1.
func (s *S3) Host() string { return "127.0.0.1" }

// Port is the TCP port the server listens on.
func (s *S3) Port() int { return s.listener.Addr().(*net.TCPAddr).Port }

// AccessKey is the access key to configure clients with.
func (s *S3) AccessKey() string { return s.accessKey }

// SecretKey is the secret key to configure clients with.
func (s *S3) SecretKey() string { return s.secretKey }

// Region is the region to configure clients with; the server ignores it.
func (s *S3) Region() string { return "us-east-1" }

// CreateBucket creates an empty bucket.
func (s *S3) CreateBucket(name string) error {
	if err := s.backend.CreateBucket(name); err != nil {
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	return nil
}

// ListObjects returns the keys of every object in a bucket, sorted.
func (s *S3) ListObjects(bucket string) ([]string, error) {
	var keys []string
	page := gofakes3.ListBucketPage{}
	for {
		list, err := s.backend.ListBucket(bucket, &gofakes3.Prefix{}, page)
		if err != nil {
			return nil, fmt.Errorf("list objects in %s: %w", bucket, err)
		}
		for _, c := range list.Contents {
			keys = append(keys, c.Key)
		}
		if !list.IsTruncated || list.NextMarker == "" {
			break
		}
		page = gofakes3.ListBucketPage{Marker: list.NextMarker, HasMarker: true}
	}
	sort.Strings(keys)
	return keys, nil
}

// Stop closes the listener and every connection, and waits for the server
// goroutine to end. Stopping twice is fine.
func (s *S3) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.server.Shutdown(ctx)
	if err != nil {
		err = s.server.Close()
	}
	<-s.served
	s.logFile.Close()
	if err != nil {
		return fmt.Errorf("stop s3: %w", err)
	}
	return nil
}

// randomHex returns 2n random hex digits.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
