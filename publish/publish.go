package publish

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	tm "github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/modelgate/modelgate/catalog"
)

// Result describes a run. In a dry run it describes what a run would
// do.
type Result struct {
	// Changes are the planned actions, sorted by path.
	Changes []Change

	// Ignored are the local folders left out.
	Ignored []Ignored

	// Uploaded and Skipped count files, UploadedBytes their bytes.
	Uploaded, Skipped, Deleted int
	UploadedBytes              int64

	// ManifestWritten reports that a new manifest was stored. It is
	// false in a dry run, and when the manifest was already current.
	ManifestWritten bool
}

// run is the state of one Publish call.
type run struct {
	cfg      Config
	api      S3
	transfer *tm.Client
}

// Publish uploads cfg.Dir as model cfg.Model through api, as the package
// documentation describes. It returns [ErrReadOnly] when the
// credentials cannot write, and [ErrChanged] when a file changed during
// the run. On any error the previous manifest stays in place. Publish is
// safe to run again after a failure: files already uploaded are skipped.
func Publish(ctx context.Context, api S3, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	cfg.setDefaults()
	p := &run{cfg: cfg, api: api, transfer: newTransfer(api, &cfg)}

	files, ignored, err := scan(cfg.Dir, cfg.prefix())
	if err != nil {
		return nil, err
	}
	res := &Result{Ignored: ignored}
	key := cfg.prefix() + probePath
	if err := checkWritable(ctx, api, cfg.Bucket, key); err != nil {
		return nil, err
	}

	st, plan, err := p.plan(ctx, files)
	if err != nil {
		return nil, err
	}
	res.Changes = plan
	if cfg.DryRun {
		countPlanned(res)
		return res, nil
	}
	if err := p.apply(ctx, st, files, res); err != nil {
		return res, err
	}
	return res, nil
}

// plan lists the remote side, hashes the local files and decides what
// to do with every file.
func (p *run) plan(ctx context.Context, files []localFile) (
	*remoteState, []Change, error,
) {
	st, err := p.listRemote(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := p.hashAll(ctx, files); err != nil {
		return nil, nil, err
	}

	local := make(map[string]bool, len(files))
	var plan []Change
	for i := range files {
		local[files[i].path] = true
		c, err := p.decide(ctx, st, &files[i])
		if err != nil {
			return nil, nil, err
		}
		plan = append(plan, c)
	}
	plan = append(plan, p.remoteOnly(st, local)...)
	sort.Slice(plan, func(i, j int) bool {
		return plan[i].Path < plan[j].Path
	})
	return st, plan, nil
}

// hashAll hashes the files, cfg.ParallelFiles at a time.
func (p *run) hashAll(ctx context.Context, files []localFile) error {
	p.cfg.Progress.Begin("hash", len(files), totalSize(files))
	defer p.cfg.Progress.End()
	return p.each(ctx, len(files), func(ctx context.Context, i int) error {
		return p.hashFile(ctx, &files[i])
	})
}

// apply uploads, deletes and writes the manifest, in that order.
func (p *run) apply(ctx context.Context, st *remoteState,
	files []localFile, res *Result,
) error {
	for _, c := range res.Changes {
		if c.Action == Skip {
			res.Skipped++
		}
	}
	etags, err := p.uploadAll(ctx, files, res.Changes)
	for _, f := range files {
		if _, ok := etags[f.path]; ok {
			res.Uploaded++
			res.UploadedBytes += f.size
		}
	}
	if err != nil {
		return err
	}
	for _, c := range res.Changes {
		if c.Action != Delete {
			continue
		}
		if err := p.delete(ctx, c.Path); err != nil {
			return err
		}
		res.Deleted++
	}

	m := p.manifest(st, files, etags, res.Changes)
	if st.hasManifest && sameFiles(m.Files, st.manifest) {
		return nil
	}
	if err := p.putManifest(ctx, m); err != nil {
		return err
	}
	res.ManifestWritten = true
	return nil
}

// uploadAll uploads the files planned for upload, cfg.ParallelFiles at a
// time, and returns the new ETags by path. The first failure cancels the
// other uploads.
func (p *run) uploadAll(ctx context.Context, files []localFile,
	plan []Change,
) (map[string]string, error) {
	var todo []*localFile
	var total int64
	for i := range files {
		if action(plan, files[i].path) == Upload {
			todo = append(todo, &files[i])
			total += files[i].size
		}
	}
	p.cfg.Progress.Begin("upload", len(todo), total)
	defer p.cfg.Progress.End()

	var mu sync.Mutex
	etags := make(map[string]string, len(todo))
	err := p.each(ctx, len(todo), func(ctx context.Context, i int) error {
		etag, err := p.upload(ctx, todo[i])
		if err != nil {
			return err
		}
		mu.Lock()
		etags[todo[i].path] = etag
		mu.Unlock()
		return nil
	})
	return etags, err
}

// each calls fn for 0..n-1, cfg.ParallelFiles at a time, and returns the
// first error. After an error it starts no more calls and cancels the
// context of those running.
func (p *run) each(ctx context.Context, n int,
	fn func(ctx context.Context, i int) error,
) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, p.cfg.ParallelFiles)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(ctx, i); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

func (p *run) delete(ctx context.Context, path string) error {
	key := p.cfg.prefix() + path
	_, err := p.api.DeleteObject(ctx, &s3.DeleteObjectInput{
		Bucket: aws.String(p.cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		return fmt.Errorf("delete s3://%s/%s: %w", p.cfg.Bucket, key, err)
	}
	p.cfg.Logger.Info("deleted", "path", path)
	return nil
}

// manifest builds the new manifest: every local file, plus the remote
// files kept whose previous entry still matches their object.
func (p *run) manifest(st *remoteState, files []localFile,
	etags map[string]string, plan []Change,
) *catalog.Manifest {
	m := &catalog.Manifest{Format: catalog.ManifestFormat,
		Model: p.cfg.Model, Published: p.cfg.Now().UTC()}
	for _, f := range files {
		etag, ok := etags[f.path]
		if !ok {
			etag = st.objects[f.path].etag
		}
		m.Files = append(m.Files, catalog.ManifestFile{Path: f.path,
			Size: f.size, SHA256: hex.EncodeToString(f.sum[:]),
			ETag: etag})
	}
	for _, c := range plan {
		prev, ok := st.manifest[c.Path]
		obj := st.objects[c.Path]
		if c.Action == Keep && ok && prev.ETag == obj.etag &&
			prev.Size == obj.size {
			m.Files = append(m.Files, prev)
		}
	}
	return m
}

// putManifest stores the manifest, the last write of a run.
func (p *run) putManifest(ctx context.Context, m *catalog.Manifest) error {
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	key := p.cfg.prefix() + catalog.ManifestPath
	_, err = p.api.PutObject(ctx, &s3.PutObjectInput{
		Bucket:      aws.String(p.cfg.Bucket),
		Key:         aws.String(key),
		Body:        bytes.NewReader(data),
		ContentType: aws.String("application/json"),
	})
	if err != nil {
		return fmt.Errorf("write manifest s3://%s/%s: %w", p.cfg.Bucket,
			key, err)
	}
	return nil
}

// sameFiles reports whether files, sorted by path, are exactly the
// entries of prev.
func sameFiles(files []catalog.ManifestFile,
	prev map[string]catalog.ManifestFile,
) bool {
	if len(files) != len(prev) {
		return false
	}
	return !slices.ContainsFunc(files, func(f catalog.ManifestFile) bool {
		return prev[f.Path] != f
	})
}

// action returns the planned action for path. plan is sorted by path.
func action(plan []Change, path string) Action {
	i := sort.Search(len(plan), func(i int) bool {
		return plan[i].Path >= path
	})
	if i < len(plan) && plan[i].Path == path {
		return plan[i].Action
	}
	return ""
}

// countPlanned fills in the totals of a dry run from its changes.
func countPlanned(res *Result) {
	for _, c := range res.Changes {
		switch c.Action {
		case Upload:
			res.Uploaded++
			res.UploadedBytes += c.Size
		case Skip:
			res.Skipped++
		case Delete:
			res.Deleted++
		}
	}
}

func totalSize(files []localFile) int64 {
	var n int64
	for _, f := range files {
		n += f.size
	}
	return n
}
