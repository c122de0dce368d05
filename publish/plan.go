package publish

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/modelgate/modelgate/catalog"
)

// metaSHA256 is the user metadata key, sent as x-amz-meta-modelgate-sha256,
// under which every upload records the lowercase hex SHA-256 of its
// content.
const metaSHA256 = "modelgate-sha256"

// Action is the operation a run performs, or would perform, on a file.
type Action string

// The actions of a [Change].
const (
	Upload Action = "upload" // send the local file
	Skip   Action = "skip"   // the object already has the local content
	Delete Action = "delete" // remove an object missing locally
	Keep   Action = "keep"   // leave an object missing locally
)

// Change is the plan for one file.
type Change struct {
	Path   string
	Size   int64 // local size, or the object's for Delete and Keep
	Action Action
	Reason string
}

// remoteObject is a listed object of the model.
type remoteObject struct {
	size int64
	etag string // without quotes
}

// remoteState is the listing of the model's prefix and its manifest.
type remoteState struct {
	objects      map[string]remoteObject // by path inside the model
	manifest     map[string]catalog.ManifestFile
	hasManifest  bool
	manifestETag string
}

// listRemote lists the model's objects, and reads the manifest when
// there is one. An unreadable or invalid manifest counts as none.
func (p *run) listRemote(ctx context.Context) (*remoteState, error) {
	st := &remoteState{objects: make(map[string]remoteObject),
		manifest: make(map[string]catalog.ManifestFile)}
	prefix := p.cfg.prefix()
	pages := s3.NewListObjectsV2Paginator(p.api, &s3.ListObjectsV2Input{
		Bucket: aws.String(p.cfg.Bucket), Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", p.cfg.Bucket,
				prefix, err)
		}
		for _, o := range out.Contents {
			p.addRemote(st, o)
		}
	}
	if st.hasManifest {
		p.readManifest(ctx, st)
	}
	return st, nil
}

func (p *run) addRemote(st *remoteState, o types.Object) {
	path := strings.TrimPrefix(aws.ToString(o.Key), p.cfg.prefix())
	etag := strings.Trim(aws.ToString(o.ETag), `"`)
	switch {
	case path == catalog.ManifestPath:
		st.hasManifest = true
		st.manifestETag = etag
	case strings.HasPrefix(path, catalog.ManifestDir+"/"),
		path == "", strings.HasSuffix(path, "/"):
		// Not a model file: modelgate's own objects or a folder marker.
	default:
		st.objects[path] = remoteObject{size: aws.ToInt64(o.Size),
			etag: etag}
	}
}

// readManifest loads the previous manifest into st.manifest.
func (p *run) readManifest(ctx context.Context, st *remoteState) {
	key := p.cfg.prefix() + catalog.ManifestPath
	m, err := getManifest(ctx, p.api, p.cfg.Bucket, key)
	if err != nil {
		p.cfg.Logger.Warn("ignoring the previous manifest; files "+
			"will be compared through their metadata", "key", key,
			"err", err)
		return
	}
	for _, f := range m.Files {
		st.manifest[f.Path] = f
	}
}

// getManifest reads and parses the manifest object at key.
func getManifest(ctx context.Context, api S3, bucket, key string) (
	*catalog.Manifest, error,
) {
	out, err := api.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(io.LimitReader(out.Body,
		catalog.MaxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	if len(data) > catalog.MaxManifestSize {
		return nil, errors.New("manifest is too large")
	}
	return catalog.ParseManifest(data)
}

// hashFile computes the SHA-256 of f's content, reporting progress. It
// fails when the file's size changed since the scan.
func (p *run) hashFile(ctx context.Context, f *localFile) error {
	r, err := os.Open(f.abs)
	if err != nil {
		return fmt.Errorf("hash %s: %w", f.path, err)
	}
	defer r.Close()

	h := sha256.New()
	w := &progressWriter{ctx: ctx, report: p.cfg.Progress, path: f.path,
		size: f.size}
	n, err := io.Copy(io.MultiWriter(h, w), r)
	p.cfg.Progress.Done(f.path, err)
	if err != nil {
		return fmt.Errorf("hash %s: %w", f.path, err)
	}
	if n != f.size {
		return fmt.Errorf("%s: %w", f.path, ErrChanged)
	}
	h.Sum(f.sum[:0])
	return nil
}

// decide plans one local file: skip it when the object under its key
// has the same size and SHA-256, otherwise upload it.
func (p *run) decide(ctx context.Context, st *remoteState,
	f *localFile,
) (Change, error) {
	c := Change{Path: f.path, Size: f.size, Action: Upload}
	obj, ok := st.objects[f.path]
	switch {
	case !ok:
		c.Reason = "new"
		return c, nil
	case obj.size != f.size:
		c.Reason = "size changed"
		return c, nil
	}

	want := hex.EncodeToString(f.sum[:])
	if m, ok := st.manifest[f.path]; ok && m.ETag == obj.etag &&
		m.Size == obj.size {
		if m.SHA256 == want {
			return Change{f.path, f.size, Skip, "unchanged"}, nil
		}
		c.Reason = "content changed"
		return c, nil
	}

	got, err := p.objectSHA256(ctx, f.path, obj)
	if err != nil {
		return c, err
	}
	if got == want {
		return Change{f.path, f.size, Skip, "already uploaded"}, nil
	}
	c.Reason = "content changed or unknown"
	return c, nil
}

// objectSHA256 returns the SHA-256 recorded in an object's metadata, or
// "" when the object has none or changed since it was listed.
func (p *run) objectSHA256(ctx context.Context, path string,
	obj remoteObject,
) (string, error) {
	key := p.cfg.prefix() + path
	out, err := p.api.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: aws.String(p.cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		return "", fmt.Errorf("head s3://%s/%s: %w", p.cfg.Bucket, key,
			err)
	}
	if strings.Trim(aws.ToString(out.ETag), `"`) != obj.etag {
		return "", nil
	}
	return out.Metadata[metaSHA256], nil
}

// remoteOnly plans the objects that have no local file.
func (p *run) remoteOnly(st *remoteState, local map[string]bool) []Change {
	var out []Change
	for path, obj := range st.objects {
		if local[path] {
			continue
		}
		c := Change{Path: path, Size: obj.size, Action: Keep,
			Reason: "missing locally"}
		if p.cfg.Delete {
			c.Action = Delete
		}
		out = append(out, c)
	}
	return out
}
