// Package demo runs an in-memory S3 server seeded with a small model, so
// that "modelgate demo" shows the whole download flow with no AWS account
// and no network. The server checks no signatures, so it is fit for a
// demonstration and for routing tests, never for tests of signing or
// permissions.
package demo

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Bucket is the demo bucket's name.
const Bucket = "models"

// Model is the id of the seeded model.
const Model = "demo/tiny-model"

// File is one seeded object, with its path inside the model.
type File struct {
	Path string
	Body []byte
}

// Files returns the seeded files of Model: a config, a tokenizer, a
// weights file of 4 MiB, a file in a subfolder, a name with spaces and
// non-ASCII characters, and an empty file.
func Files() []File {
	weights := make([]byte, 4<<20)
	rng := rand.NewChaCha8([32]byte{'m', 'o', 'd', 'e', 'l', 'g', 'a', 't', 'e'})
	rng.Read(weights)
	return []File{
		{"config.json", []byte(`{"architectures": ["TinyModel"], ` +
			`"hidden_size": 64, "num_hidden_layers": 2, ` +
			`"vocab_size": 256}` + "\n")},
		{"tokenizer.json", []byte(`{"version": "1.0", "model": ` +
			`{"type": "BPE", "vocab": {"a": 0, "b": 1}}}` + "\n")},
		{"model.safetensors", weights},
		{"tokenizer/vocab.txt", []byte("a\nb\nc\n")},
		{"notes/naïve café (v1).txt", []byte("Ceci n'est pas un modèle.\n")},
		{"empty.txt", nil},
	}
}

// S3 is a running in-memory S3 server.
type S3 struct {
	// URL is the server's base URL, such as "http://127.0.0.1:41234".
	URL string

	srv *http.Server
	ln  net.Listener
}

// Start starts an in-memory S3 server on addr ("127.0.0.1:0" picks a
// free port) holding Bucket, seeded with Files under Model.
func Start(addr string) (*S3, error) {
	backend := s3mem.New()
	faker := gofakes3.New(backend, gofakes3.WithAutoBucket(true))
	if err := backend.CreateBucket(Bucket); err != nil {
		return nil, fmt.Errorf("create demo bucket: %w", err)
	}
	for _, f := range Files() {
		key := Model + "/" + f.Path
		_, err := backend.PutObject(Bucket, key,
			map[string]string{"Content-Type": "application/octet-stream"},
			bytes.NewReader(f.Body), int64(len(f.Body)), nil)
		if err != nil {
			return nil, fmt.Errorf("seed %s: %w", key, err)
		}
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for the demo S3 server: %w", err)
	}
	s := &S3{
		URL: "http://" + ln.Addr().String(),
		srv: &http.Server{Handler: faker.Server(),
			ReadHeaderTimeout: 10 * time.Second},
		ln: ln,
	}
	go s.srv.Serve(ln)
	return s, nil
}

// Close stops the server.
func (s *S3) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}
