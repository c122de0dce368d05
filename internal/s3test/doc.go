// Package s3test starts a real S3 server on loopback for integration tests.
//
// The server is SeaweedFS in its single-process "weed mini" mode, built from
// the module pinned in the weedbuild directory. Unlike an in-memory fake, it
// verifies SigV4 signatures on requests and on pre-signed URLs, enforces URL
// and session expiry, issues temporary credentials through STS AssumeRole,
// and rejects writes made with a read-only role. Tests that depend on any of
// that must use this package.
//
// Each [Server] has one bucket and three principals:
//
//   - an admin identity with full access, for seeding objects;
//   - a gateway identity that is allowed no S3 action at all;
//   - a read-only role (s3:GetObject and s3:ListBucket on the bucket) that
//     only the gateway identity may assume.
//
// S3 and STS share one endpoint, http://127.0.0.1:PORT. Every listener binds
// 127.0.0.1, telemetry is off, and the server's logs and data stay under
// [Server.Dir], which [Server.Stop] removes.
//
// [Binary] builds the server the first time it is needed, which takes several
// minutes on a cold Go build cache. Set MODELGATE_WEED to use a prebuilt
// binary instead.
//
// Behaviour of the pinned SeaweedFS version that tests should expect:
//
//   - Some error codes differ from AWS (a changed session token gives
//     InvalidAccessKeyId, not InvalidToken), so assert the HTTP status.
//   - A Range request on a zero-byte object gets 416 InvalidRange.
//   - A GET-signed URL fetched with an extra Authorization header still
//     succeeds, where AWS rejects the request. A test that a client's
//     token never reaches S3 must inspect what S3 received.
package s3test
