package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// benchBucket is the bucket of the in-memory S3 server.
const benchBucket = "models"

// bucketLayout describes the generated bucket: Models models of
// FilesPerModel files each, named like sharded weights on the Hugging
// Face Hub.
type bucketLayout struct {
	Models        int
	FilesPerModel int
}

// Objects returns the number of objects in the bucket.
func (l bucketLayout) Objects() int { return l.Models * l.FilesPerModel }

// modelID returns the id of model m, such as "org-012/model-0345",
// with 20 models per organisation.
func (l bucketLayout) modelID(m int) string {
	return fmt.Sprintf("org-%03d/model-%04d", m/20, m)
}

// filePath returns the path of file f of a model, such as
// "model-00042-of-00100.safetensors".
func (l bucketLayout) filePath(f int) string {
	return fmt.Sprintf("model-%05d-of-%05d.safetensors", f+1,
		l.FilesPerModel)
}

// key returns the object key of file f of model m.
func (l bucketLayout) key(m, f int) string {
	return l.modelID(m) + "/" + l.filePath(f)
}

// downloadPaths returns the request path of every file, as a Hugging
// Face client asks for it: /ORG/NAME/resolve/main/PATH. The names need
// no escaping.
func (l bucketLayout) downloadPaths() []string {
	paths := make([]string, 0, l.Objects())
	for m := range l.Models {
		for f := range l.FilesPerModel {
			paths = append(paths, "/"+l.modelID(m)+"/resolve/main/"+
				l.filePath(f))
		}
	}
	return paths
}

// fakeS3 is an in-memory S3 server that counts the requests it gets.
type fakeS3 struct {
	// URL is the server's base URL, such as "http://127.0.0.1:41234".
	URL string

	requests atomic.Int64
	srv      *http.Server
}

// startFakeS3 starts an in-memory S3 server on a free loopback port,
// holding benchBucket filled with the objects of layout. Each object's
// content is its own key, so no object is empty.
func startFakeS3(layout bucketLayout) (*fakeS3, error) {
	backend := s3mem.New()
	if err := backend.CreateBucket(benchBucket); err != nil {
		return nil, fmt.Errorf("create bucket: %w", err)
	}
	meta := map[string]string{"Content-Type": "application/octet-stream"}
	for m := range layout.Models {
		for f := range layout.FilesPerModel {
			key := layout.key(m, f)
			_, err := backend.PutObject(benchBucket, key, meta,
				strings.NewReader(key), int64(len(key)), nil)
			if err != nil {
				return nil, fmt.Errorf("put %s: %w", key, err)
			}
		}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the S3 server: %w", err)
	}
	s := &fakeS3{URL: "http://" + ln.Addr().String()}
	faker := gofakes3.New(backend)
	s.srv = &http.Server{
		Handler:           s.count(faker.Server()),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go s.srv.Serve(ln)
	return s, nil
}

// count counts every request before next handles it.
func (s *fakeS3) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		next.ServeHTTP(w, r)
	})
}

// Requests returns the number of requests served so far.
func (s *fakeS3) Requests() int64 { return s.requests.Load() }

// Close stops the server.
func (s *fakeS3) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}
