// Package catalog keeps an in-memory index of the models and files in an
// S3 bucket.
//
// A model is a prefix of two path segments, "org/name", below an optional
// root prefix, and its files are all objects below it. The catalog lists
// the bucket with ListObjectsV2, following every page, and swaps in a new
// immutable [Snapshot] only when a listing completes. A failed or partial
// listing never replaces a complete one, so lookups keep working from the
// last good snapshot while S3 is unavailable.
//
// Lookups make no S3 request. Concurrent callers that find the catalog
// empty share one listing.
//
// Each model carries a commit id: the lowercase hex SHA-1 of its files,
// sorted by path, as "path\x00size\x00etag\n" lines. Every replica that sees
// the same objects computes the same id, and any change to a file gives a
// new one.
package catalog
