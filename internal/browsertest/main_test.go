package browsertest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/modelgate/modelgate/catalog"
	"github.com/modelgate/modelgate/internal/s3test"
	"github.com/modelgate/modelgate/presign"
	"github.com/modelgate/modelgate/server"
)

// Objects of the test bucket.
const (
	tinyModel = "acme/tiny-model"
	// downloadName has a space and a non-ASCII letter, so the saved name
	// depends on the filename* parameter of Content-Disposition.
	downloadName = "weights-ü 1.bin"

	hostileModel = `xss/"'><img src=x onerror=window.__pwned=1>`
	hostileFile  = `<img src=x onerror=window.__pwned=2>"'.txt`
	scriptFile   = `<script>window.__pwned=3</script>.txt`
)

// testEnv is the S3 server and gateways that every test of the package
// shares. TestMain sets it up once and tears it down after the tests.
type testEnv struct {
	s3 *s3test.Server

	// gateway allows every origin. listGateway allows only
	// https://app.example and the origin of originPage.
	gateway, listGateway *httptest.Server

	// originPage serves a page on another loopback origin, from which
	// the tests make cross-origin requests to the gateways.
	originPage *httptest.Server

	// objects maps each key in the bucket to its content.
	objects map[string][]byte
}

// env is set by TestMain before any test runs and is read-only after.
var env *testEnv

func TestMain(m *testing.M) {
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	code, err := run(m)
	if err != nil {
		fmt.Fprintf(os.Stderr, "browsertest: %v\n", err)
		code = 1
	}
	os.Exit(code)
}

// run sets up the environment, runs the tests and stops everything it
// started.
func run(m *testing.M) (int, error) {
	s3srv, err := s3test.Start(s3test.Options{})
	if err != nil {
		return 0, err
	}
	defer s3srv.Stop()

	e := &testEnv{s3: s3srv, objects: testObjects()}
	if err := e.seed(context.Background()); err != nil {
		return 0, err
	}
	e.originPage = newOriginPage()
	defer e.originPage.Close()
	if e.gateway, err = startGateway(s3srv, nil); err != nil {
		return 0, err
	}
	defer e.gateway.Close()
	origins := []string{"https://app.example", e.originPage.URL}
	if e.listGateway, err = startGateway(s3srv, origins); err != nil {
		return 0, err
	}
	defer e.listGateway.Close()

	env = e
	return m.Run(), nil
}

// testObjects returns the bucket's content: a model to download, a few
// more to fill the list, and one whose names try to inject markup.
func testObjects() map[string][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	weights := make([]byte, 300<<10)
	for i := range weights {
		weights[i] = byte(rng.Uint32())
	}
	objs := map[string][]byte{
		tinyModel + "/config.json":           []byte(`{"model_type":"tiny"}` + "\n"),
		tinyModel + "/" + downloadName:       weights,
		tinyModel + "/tokenizer/vocab.txt":   []byte("a\nb\nc\n"),
		tinyModel + "/README.md":             []byte("# tiny\n"),
		"acme/base-7b/model.safetensors":     make([]byte, 2<<20),
		"acme/base-7b/config.json":           []byte("{}\n"),
		"beta-labs/vision-small/weights.bin": make([]byte, 64<<10),
		hostileModel + "/" + hostileFile:     []byte("hostile file\n"),
		hostileModel + "/" + scriptFile:      []byte("script file\n"),
	}
	return objs
}

// seed uploads the objects and sets a CORS configuration on the bucket,
// as an operator must on AWS for browser scripts to read the files.
func (e *testEnv) seed(ctx context.Context) error {
	for key, body := range e.objects {
		if err := e.s3.Put(ctx, key, body); err != nil {
			return err
		}
	}
	_, err := e.s3.AdminClient().PutBucketCors(ctx, &s3.PutBucketCorsInput{
		Bucket: aws.String(e.s3.Bucket),
		CORSConfiguration: &types.CORSConfiguration{
			CORSRules: []types.CORSRule{{
				AllowedOrigins: []string{"*"},
				AllowedMethods: []string{"GET", "HEAD"},
				AllowedHeaders: []string{"Range"},
				ExposeHeaders: []string{"Content-Range", "Content-Length",
					"ETag"},
				MaxAgeSeconds: aws.Int32(600),
			}},
		},
	})
	if err != nil {
		return fmt.Errorf("set bucket CORS: %w", err)
	}
	return nil
}

// startGateway serves the gateway on 127.0.0.1 with the production
// wiring: the catalog lists the bucket and the signer signs URLs with
// the read-only role's temporary credentials.
func startGateway(s3srv *s3test.Server, origins []string) (
	*httptest.Server, error,
) {
	signer, err := presign.NewSigner(presign.Config{
		Bucket:         s3srv.Bucket,
		Region:         s3srv.Region,
		PublicEndpoint: s3srv.Endpoint,
		PathStyle:      true,
		Expiry:         10 * time.Minute,
	}, s3srv.RoleProvider())
	if err != nil {
		return nil, err
	}
	cat, err := catalog.New(s3srv.Client(signer),
		catalog.Config{Bucket: s3srv.Bucket})
	if err != nil {
		return nil, err
	}
	if _, err := cat.Refresh(context.Background()); err != nil {
		return nil, fmt.Errorf("list the test bucket: %w", err)
	}
	srv, err := server.New(server.Config{CORSOrigins: origins}, cat,
		signer)
	if err != nil {
		return nil, err
	}
	return httptest.NewServer(srv), nil
}

// newOriginPage serves a small HTML page on a new loopback origin. The
// caller must close it.
func newOriginPage() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request,
	) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><title>Another site</title>"+
			"<p>A page on another origin.</p>")
	}))
}
