// Package e2e holds end-to-end tests of the modelgate binary. They build
// the binary, run it as a separate process against a real S3 server
// (SeaweedFS with STS and a read-only role, from internal/s3test) and
// download files through it with net/http and, when it is installed,
// curl. The package has no code outside its tests.
package e2e
