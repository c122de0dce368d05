// Package server is modelgate's HTTP front end: the router, the handlers,
// the middleware and the mapping from errors to responses.
//
// A download gets a 302 redirect to a pre-signed S3 URL and an empty
// body. HEAD gets 200 and the file's metadata, because a URL signed for
// GET fails when fetched with HEAD. The handlers look files
// up in the in-memory catalog only and never call S3 themselves. The URL
// scheme follows the Hugging Face Hub, so its clients work with
// HF_ENDPOINT pointed at the gateway.
package server
