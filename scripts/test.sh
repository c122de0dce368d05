#!/usr/bin/env bash
# Runs modelgate's whole test suite: go vet, the unit tests, and the
# integration tests against a real S3 server (SeaweedFS with STS), which
# the suite builds on first use and caches under ~/.cache/modelgate.
set -euo pipefail
cd "$(dirname "$0")/.."

# Nothing in the tests may reach a cloud metadata endpoint.
export AWS_EC2_METADATA_DISABLED=true
export GOFLAGS="${GOFLAGS:-} -mod=readonly"

# The end-to-end tests also download with the curl binary, and skip
# those checks when it is missing. Install it when possible.
echo "== curl for the end-to-end tests"
if command -v curl >/dev/null; then
  echo "curl is installed"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends curl
else
  echo "curl is missing: the end-to-end tests skip their curl checks"
fi

# promtool and prometheus (Debian package prometheus) check the
# gateway's /metrics output and scrape it in the server tests. Only the
# binaries are used: each test starts its own server on 127.0.0.1.
echo "== prometheus and promtool (installed once)"
if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends prometheus
fi

echo "== go vet"
go vet ./...

echo "== build the S3 test server (cached after the first run)"
go test -count=1 -run '^TestBinary$' ./internal/s3test/

echo "== go test"
go test -count=1 -timeout 40m ./...
