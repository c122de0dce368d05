package e2e

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/modelgate/modelgate/catalog"
)

// errMidListing is the error injected into a listing after its first
// page.
var errMidListing = errors.New("injected: connection lost mid-listing")

// midListingFault fails every ListObjectsV2 request that continues a
// listing while fail is set, so a listing gets its first page and then
// an error.
type midListingFault struct {
	catalog.API
	fail atomic.Bool
}

func (f *midListingFault) ListObjectsV2(ctx context.Context,
	in *s3.ListObjectsV2Input, opts ...func(*s3.Options),
) (*s3.ListObjectsV2Output, error) {
	if f.fail.Load() && in.ContinuationToken != nil {
		return nil, errMidListing
	}
	return f.API.ListObjectsV2(ctx, in, opts...)
}

// TestListingFailingMidwayKeepsCatalog lists a model two keys per page
// from SeaweedFS with the read-only role, and checks that a listing
// that fails after its first page leaves the complete catalog in place.
func TestListingFailingMidwayKeepsCatalog(t *testing.T) {
	s := suiteFor(t)
	const root, model = "e2e-partial/", "acme/paged"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	put := func(name string) {
		t.Helper()
		key := root + model + "/" + name
		if err := s.s3.Put(ctx, key, []byte(name)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.s3.Delete(context.Background(), key) })
	}
	for i := range 5 {
		put(fmt.Sprintf("shard-%d.bin", i))
	}

	api := &midListingFault{API: s.s3.Client(s.s3.RoleProvider())}
	c, err := catalog.New(api, catalog.Config{Bucket: s.s3.Bucket,
		Root: root, PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	full, err := c.Refresh(ctx)
	if err != nil {
		t.Fatalf("first Refresh: %v", err)
	}
	m, ok := full.Model(model)
	if !ok || m.NumFiles() != 5 {
		t.Fatalf("first listing: model %s found %v with %d files, want 5",
			model, ok, m.NumFiles())
	}

	put("shard-5.bin")
	api.fail.Store(true)
	if _, err := c.Refresh(ctx); !errors.Is(err, errMidListing) {
		t.Errorf("Refresh failing after page 1 = %v, want %v", err,
			errMidListing)
	}
	if c.Current() != full {
		t.Errorf("a failed listing replaced the complete catalog")
	}

	api.fail.Store(false)
	next, err := c.Refresh(ctx)
	if err != nil {
		t.Fatalf("Refresh after the fault: %v", err)
	}
	if m, _ := next.Model(model); m == nil || m.NumFiles() != 6 {
		t.Errorf("listing after the fault: %v, want 6 files of %s", m,
			model)
	}
}
