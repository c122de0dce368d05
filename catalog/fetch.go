package catalog

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// manifestFetchers is the number of manifests read at the same time.
const manifestFetchers = 8

// fetched is the outcome of reading one model's manifest.
type fetched struct {
	id  string
	idx *manifestIndex
	err error // a failed request; a rejected manifest sets idx.invalid
}

// attachManifests reads the manifests whose ETag changed since the last
// refresh, then gives every file that its model's manifest vouches for
// its SHA-256, and counts the others. A manifest that cannot be read
// leaves the previous one of that model in use, and is read again on the
// next refresh.
func (c *Catalog) attachManifests(ctx context.Context, s *Snapshot,
	found map[string]Object,
) {
	next := make(map[string]*manifestIndex, len(found))
	var stale []Object
	for id, o := range found {
		if _, ok := s.byID[id]; !ok {
			continue // a manifest without files describes no model
		}
		old := c.manifests[id]
		if old != nil && old.etag == strings.Trim(o.ETag, `"`) {
			next[id] = old
			continue
		}
		stale = append(stale, o)
	}

	for _, r := range c.fetchManifests(ctx, stale) {
		switch {
		case r.err != nil:
			c.cfg.Logger.Warn("cannot read model manifest; will retry "+
				"at the next refresh", "model", r.id, "err", r.err)
			if old := c.manifests[r.id]; old != nil {
				next[r.id] = old
			}
		case r.idx.invalid != nil:
			c.cfg.Logger.Warn("model manifest is invalid; serving the "+
				"model without SHA-256", "model", r.id,
				"err", r.idx.invalid)
			next[r.id] = r.idx
		default:
			c.cfg.Logger.Debug("model manifest loaded", "model", r.id,
				"files", len(r.idx.entries))
			next[r.id] = r.idx
		}
	}
	c.manifests = next
	c.applyManifests(s)
}

// applyManifests matches each model's files against its manifest and
// counts the files with and without a SHA-256. For each model that has
// files its manifest does not vouch for, it logs one line when that
// number differs from the last refresh's, so that an unchanged model
// does not repeat its warning on every refresh.
func (c *Catalog) applyManifests(s *Snapshot) {
	ids := make([]string, 0, len(c.manifests))
	for id := range c.manifests {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	unverified := make(map[string]int)
	for _, id := range ids {
		m := s.byID[id]
		n := c.manifests[id].apply(m)
		s.Unverified += n
		s.Verified += m.NumFiles() - n
		if n == 0 {
			continue
		}
		unverified[id] = n
		if c.unverified[id] != n {
			c.cfg.Logger.Warn("files not vouched for by the model's "+
				"manifest are served without SHA-256", "model", id,
				"files", n, "of", m.NumFiles())
		}
	}
	c.unverified = unverified
}

// fetchManifests reads the manifest objects, several at a time, and
// returns the outcomes in no particular order.
func (c *Catalog) fetchManifests(ctx context.Context,
	objs []Object,
) []fetched {
	out := make([]fetched, len(objs))
	sem := make(chan struct{}, manifestFetchers)
	var wg sync.WaitGroup
	for i, o := range objs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			out[i] = c.fetchManifest(ctx, o)
		})
	}
	wg.Wait()
	return out
}

// fetchManifest reads and parses one manifest object.
func (c *Catalog) fetchManifest(ctx context.Context, o Object) fetched {
	id := strings.TrimPrefix(o.Key, c.cfg.Root)
	id = strings.TrimSuffix(id, "/"+ManifestPath)
	r := fetched{id: id}

	out, err := c.api.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(c.cfg.Bucket),
		Key:    aws.String(o.Key),
	})
	if c.cfg.OnGet != nil {
		c.cfg.OnGet(err)
	}
	if err != nil {
		r.err = fmt.Errorf("get s3://%s/%s: %w", c.cfg.Bucket, o.Key, err)
		return r
	}
	defer out.Body.Close()
	data, err := io.ReadAll(io.LimitReader(out.Body, MaxManifestSize+1))
	if err != nil {
		r.err = fmt.Errorf("read s3://%s/%s: %w", c.cfg.Bucket, o.Key, err)
		return r
	}

	// The ETag of the response, not of the listing, names what was read.
	etag := strings.Trim(aws.ToString(out.ETag), `"`)
	r.idx = parseManifestObject(etag, id, data)
	return r
}

// parseManifestObject builds the index of a manifest object's content.
// A rejected manifest gives an index with no entries and the reason.
func parseManifestObject(etag, id string, data []byte) *manifestIndex {
	if len(data) > MaxManifestSize {
		return &manifestIndex{etag: etag, invalid: fmt.Errorf(
			"manifest is larger than %d bytes", MaxManifestSize)}
	}
	m, err := ParseManifest(data)
	if err == nil && m.Model != id {
		err = fmt.Errorf("manifest is for model %q", m.Model)
	}
	if err != nil {
		return &manifestIndex{etag: etag, invalid: err}
	}
	return newManifestIndex(etag, m)
}
