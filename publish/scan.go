package publish

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/modelgate/modelgate/catalog"
)

// maxKeyLen is the longest object key S3 accepts, in bytes.
const maxKeyLen = 1024

// maxScanErrors bounds the problems one scan reports.
const maxScanErrors = 20

// localFile is a regular file to publish.
type localFile struct {
	path string // slash-separated path inside the model
	abs  string // the file to read; a link's target for a link
	size int64
	sum  [32]byte // set by the hashing pass
}

// Ignored is a folder that publishing leaves out.
type Ignored struct {
	Path   string // slash-separated, ending in "/"
	Reason string
}

// ignoredReason returns why the folder at rel, named name, is never
// uploaded, or "" when it is. A .git folder is left out at any depth,
// the others only at the top.
func ignoredReason(rel, name string) string {
	switch {
	case name == ".git":
		return "Git metadata"
	case rel == catalog.ManifestDir:
		return "reserved for the manifest"
	case rel == ".cache/huggingface":
		return "download state of the Hugging Face client"
	}
	return ""
}

// scan lists the files below dir. Hidden files are included. The
// folders that ignoredReason names are left out and returned, so that
// the caller reports them. It returns every problem it finds, up to
// maxScanErrors, in one error.
func scan(dir, prefix string) ([]localFile, []Ignored, error) {
	root, err := filepath.Abs(dir)
	if err == nil {
		root, err = filepath.EvalSymlinks(root)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("open folder: %w", err)
	}
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		return nil, nil, fmt.Errorf("%s is not a folder", dir)
	}

	s := scanner{root: root, prefix: prefix}
	if err := filepath.WalkDir(root, s.visit); err != nil {
		s.fail(err)
	}
	if len(s.errs) > 0 {
		return nil, nil, fmt.Errorf("cannot publish %s:\n%w", dir,
			errors.Join(s.errs...))
	}
	if len(s.files) == 0 {
		return nil, s.ignored, fmt.Errorf("%s has no files to publish",
			dir)
	}
	sort.Slice(s.files, func(i, j int) bool {
		return s.files[i].path < s.files[j].path
	})
	return s.files, s.ignored, nil
}

// scanner collects the files, ignored folders and problems of one scan.
type scanner struct {
	root, prefix string
	files        []localFile
	ignored      []Ignored
	errs         []error
}

func (s *scanner) fail(err error) {
	if len(s.errs) < maxScanErrors {
		s.errs = append(s.errs, err)
	}
}

// visit is the filepath.WalkFunc of a scan.
func (s *scanner) visit(path string, d fs.DirEntry, err error) error {
	if err != nil {
		s.fail(err)
		return nil
	}
	if path == s.root {
		return nil
	}
	rel, err := filepath.Rel(s.root, path)
	if err != nil {
		return err
	}
	rel = filepath.ToSlash(rel)

	switch {
	case d.IsDir():
		if reason := ignoredReason(rel, d.Name()); reason != "" {
			s.ignored = append(s.ignored, Ignored{rel + "/", reason})
			return filepath.SkipDir
		}
		return nil
	case d.Type()&fs.ModeSymlink != 0:
		s.addLink(path, rel)
	case d.Type().IsRegular():
		s.addFile(path, rel)
	default:
		s.fail(fmt.Errorf("%s: not a regular file (%v)", rel, d.Type()))
	}
	return nil
}

// addLink adds the target of a symbolic link that stays inside the
// folder. Links to folders are rejected, because following them could
// loop or list a file twice.
func (s *scanner) addLink(path, rel string) {
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		s.fail(fmt.Errorf("%s: broken symbolic link: %w", rel, err))
		return
	}
	inside, err := filepath.Rel(s.root, target)
	if err != nil || inside == ".." ||
		strings.HasPrefix(inside, ".."+string(filepath.Separator)) {
		s.fail(fmt.Errorf("%s: symbolic link leads outside the folder, "+
			"to %s; copy the file in instead", rel, target))
		return
	}
	st, err := os.Stat(target)
	switch {
	case err != nil:
		s.fail(fmt.Errorf("%s: %w", rel, err))
	case st.IsDir():
		s.fail(fmt.Errorf("%s: symbolic link to a folder; links to "+
			"folders are not followed", rel))
	case !st.Mode().IsRegular():
		s.fail(fmt.Errorf("%s: link to something other than a regular "+
			"file", rel))
	default:
		s.add(localFile{path: rel, abs: target, size: st.Size()})
	}
}

func (s *scanner) addFile(path, rel string) {
	st, err := os.Stat(path)
	if err != nil {
		s.fail(fmt.Errorf("%s: %w", rel, err))
		return
	}
	s.add(localFile{path: rel, abs: path, size: st.Size()})
}

// add checks the file's name against the gateway's path rules and the
// S3 key rules before adding it.
func (s *scanner) add(f localFile) {
	switch {
	case !utf8.ValidString(f.path):
		s.fail(fmt.Errorf("%q: file name is not valid UTF-8, which S3 "+
			"keys must be", f.path))
	case !catalog.ValidPath(f.path):
		s.fail(fmt.Errorf("%q: file name has a backslash or a control "+
			"character, which the gateway does not serve", f.path))
	case len(s.prefix)+len(f.path) > maxKeyLen:
		s.fail(fmt.Errorf("%s: key would be longer than %d bytes",
			f.path, maxKeyLen))
	default:
		s.files = append(s.files, f)
	}
}
