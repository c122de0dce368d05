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

# apt_install installs Debian packages without prompts. Packages such as
# prometheus start a service listening on every interface when they are
# installed, so unless the machine already has a policy that forbids
# that, one is put in place for the install and removed afterwards.
apt_install() {
  local policy=/usr/sbin/policy-rc.d added=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    added=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends "$@"
  if [ -n "$added" ]; then
    rm -f "$policy"
  fi
}

# The end-to-end tests also download with the curl binary, and skip
# those checks when it is missing. Install it when possible.
echo "== curl for the end-to-end tests"
if command -v curl >/dev/null; then
  echo "curl is installed"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt_install curl
else
  echo "curl is missing: the end-to-end tests skip their curl checks"
fi

# promtool and prometheus (Debian package prometheus) check the
# gateway's /metrics output and scrape it in the server tests. Only the
# binaries are used: each test starts its own server on 127.0.0.1.
echo "== prometheus and promtool (installed once)"
if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
  apt_install prometheus
fi

echo "== go vet"
go vet ./...

# The first build downloads about 590 modules and compiles for about
# 4 minutes on 2 cores, longer than go test's default 10-minute limit
# allows on a busy machine.
echo "== build the S3 test server (cached after the first run)"
go test -count=1 -timeout 45m -run '^TestBinary$' ./internal/s3test/

echo "== install the JavaScript client for the interop tests (cached)"
install_js_client() {
	local dir=interop/js stamp=interop/js/node_modules/.lock-sha256 want
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		apt_install nodejs npm
	fi
	want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
	if [ -d "$dir/node_modules/@huggingface/hub" ] &&
		[ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
		return
	fi
	(cd "$dir" && npm ci --no-audit --no-fund)
	echo "$want" >"$stamp"
}
install_js_client

# Debian's chromium runs the browser tests of the HTML pages headless.
echo "== chromium for the browser tests (installed once)"
if ! command -v chromium >/dev/null; then
  apt_install chromium
fi

echo "== go test"
go test -count=1 -timeout 40m ./...

# Each fuzz target runs briefly on top of its committed corpus, one at a
# time with one worker, because the suite shares a small machine. A
# crasher fails the run and is written to the package's testdata/fuzz.
# The budget counts executions, because a time budget on Go 1.26 can fail
# with "context deadline exceeded" when a worker is busy at the deadline.
# MODELGATE_FUZZTIME overrides it (go test -fuzztime form, 30000x default).
fuzztime=${MODELGATE_FUZZTIME:-30000x}
echo "== fuzz each target for $fuzztime"
fuzz_packages=$(grep -rl --include='*_test.go' '^func Fuzz' . |
  xargs -r -n1 dirname | sort -u)
for dir in $fuzz_packages; do
  targets=$(go test -list '^Fuzz' "$dir" | grep '^Fuzz' || true)
  for target in $targets; do
    echo "-- $dir $target"
    go test "$dir" -run '^$' -fuzz "^${target}\$" \
      -fuzztime "$fuzztime" -parallel 1
  done
done
