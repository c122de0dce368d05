#!/usr/bin/env bash
# Runs modelgate's whole test suite: go vet, the unit tests, and the
# integration tests against a real S3 server (SeaweedFS with STS), which
# the suite builds on first use and caches under ~/.cache/modelgate. The
# browser tests use Debian's chromium package, installed here when
# missing (this needs root, as on CI).
set -euo pipefail
cd "$(dirname "$0")/.."

# Nothing in the tests may reach a cloud metadata endpoint.
export AWS_EC2_METADATA_DISABLED=true
export GOFLAGS="${GOFLAGS:-} -mod=readonly"

echo "== go vet"
go vet ./...

echo "== build the S3 test server (cached after the first run)"
go test -count=1 -run '^TestBinary$' ./internal/s3test/

echo "== Chromium for the browser tests (Debian's package, installed once)"
command -v chromium >/dev/null ||
	(apt-get update && apt-get install -y --no-install-recommends chromium)

echo "== go test"
go test -count=1 -timeout 40m ./...
