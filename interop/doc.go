// Package interop tests modelgate with the official Hugging Face clients.
//
// The tests build the modelgate binary, start it against a real S3
// server (SeaweedFS with STS, from internal/s3test) on the read-only
// role's credentials, and drive it with the JavaScript client
// @huggingface/hub, pinned in js/package-lock.json. Logging reverse
// proxies in front of the gateway and of S3 record what each side
// received, so the tests can show where a client's bearer token went.
// One model goes up through the publish package, which writes a
// manifest of SHA-256 digests, so that the client sees them as lfs.oid.
//
// The JavaScript dependencies must be installed first with
// "npm ci --no-audit --no-fund" in js/; scripts/test.sh does that when
// node_modules is missing or the lock file changed.
package interop
