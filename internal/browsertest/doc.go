// Package browsertest drives the gateway's HTML pages and its CORS
// headers with headless Chromium, against a gateway that serves a real
// S3 bucket (SeaweedFS) through pre-signed URLs.
//
// The tests need Debian's chromium package at /usr/bin/chromium, which
// scripts/test.sh installs. They never download a browser. Screenshots
// of the pages land in test-output/pages/ at the repository root.
package browsertest
