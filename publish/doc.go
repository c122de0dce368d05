// Package publish uploads a local model folder to the bucket that
// modelgate serves, and writes the manifest that gives the gateway each
// file's SHA-256.
//
// [Publish] works in this order, and writes nothing before step 3:
//
//  1. It scans the folder and rejects it whole when a file name is not a
//     valid key, a symbolic link leads outside the folder, or an entry
//     is neither a file nor a folder.
//  2. It checks that the credentials can write, with a PutObject that S3
//     rejects for its wrong Content-MD5 before storing anything. Read-only
//     credentials fail with [ErrReadOnly].
//  3. It lists the model's prefix, reads the previous manifest, hashes
//     every local file and decides, file by file, to upload or to skip.
//  4. It uploads the changed files, large ones as multipart uploads with
//     parallel parts, then deletes remote files missing locally when
//     asked to, and writes the manifest last.
//
// A file is skipped when the object under its key has the same size and
// the same SHA-256 as the local file. The SHA-256 of an object comes from
// the previous manifest while the object's ETag still matches it, or
// else from the object's metadata, which every upload sets. The metadata
// is what lets a run resume after an interrupted one: the files that were
// complete are not sent again, although the manifest never listed them.
//
// The manifest is written after every upload has finished, so a run that
// stops early leaves the previous manifest, and the gateway keeps serving
// the files it lists with their SHA-256.
package publish
