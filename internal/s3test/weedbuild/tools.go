//go:build tools

// Package weedbuild pins the SeaweedFS server that the integration tests
// start on loopback. It is a separate module so that its dependencies stay
// out of the gateway's go.mod.
package weedbuild

import _ "github.com/seaweedfs/seaweedfs/weed"
