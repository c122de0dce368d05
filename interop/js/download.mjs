// Drives the Hugging Face JavaScript client (@huggingface/hub) against a
// modelgate gateway and writes what the client returned to a JSON file.
// The Go test that starts this script checks the results.
//
// Environment:
//   HUB_URL       the gateway's base URL
//   REPO          the model id, "org/name"
//   FILE          a file of the model to download on its own
//   MISSING       a path that is not in the model
//   CACHE_DIR     an empty directory for the client's cache
//   OUT_DIR       a directory for the single-file downloads
//   ACCESS_TOKEN  a token starting with "hf_", sent on the last download
//   PUBLISHED     a second model id, published with a manifest of SHA-256
//                 digests. The script lists it, reads its paths-info and
//                 downloads each of its files to CACHE_DIR.
//   REPORT        the file to write the JSON report to
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

import {
  downloadFile,
  downloadFileToCacheDir,
  fileExists,
  listFiles,
  modelInfo,
  pathsInfo,
  snapshotDownload,
} from "@huggingface/hub";

function env(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`environment variable ${name} is missing`);
  }
  return value;
}

// clientVersion returns the installed version of @huggingface/hub.
async function clientVersion() {
  const pkg = new URL("./node_modules/@huggingface/hub/package.json",
    import.meta.url);
  return JSON.parse(await readFile(pkg, "utf8")).version;
}

// save writes a downloaded blob to dir/name and returns the file path.
async function save(blob, dir, name) {
  const path = join(dir, name);
  await writeFile(path, Buffer.from(await blob.arrayBuffer()));
  return path;
}

// listEntries returns the recursive listing of repo.
async function listEntries(repo, hubUrl) {
  const entries = [];
  for await (const entry of listFiles({ repo, hubUrl, recursive: true })) {
    entries.push({ type: entry.type, path: entry.path,
      size: entry.size, oid: entry.oid, lfs: entry.lfs,
      xetHash: entry.xetHash });
  }
  return entries;
}

// published lists repo, reads the expanded paths-info of its files and
// downloads each file to cacheDir. It returns what the client reported
// and, by path, where the client put each download.
async function published(repo, hubUrl, cacheDir) {
  const listing = await listEntries(repo, hubUrl);
  const paths = listing.filter((e) => e.type === "file").map((e) => e.path);
  const infos = await pathsInfo({ repo, hubUrl, paths, expand: true });
  const cached = {};
  for (const path of paths) {
    cached[path] = await downloadFileToCacheDir({ repo, hubUrl, path,
      cacheDir });
  }
  return {
    listFiles: listing,
    pathsInfo: infos.map((e) => ({ type: e.type, path: e.path,
      size: e.size, oid: e.oid, lfs: e.lfs,
      lastCommit: e.lastCommit && e.lastCommit.id })),
    cacheDir,
    cached,
  };
}

async function main() {
  const hubUrl = env("HUB_URL");
  const repo = env("REPO");
  const file = env("FILE");
  const missing = env("MISSING");
  const cacheDir = env("CACHE_DIR");
  const outDir = env("OUT_DIR");
  const accessToken = env("ACCESS_TOKEN");
  const reportPath = env("REPORT");
  const publishedRepo = env("PUBLISHED");
  await mkdir(outDir, { recursive: true });

  const report = { version: await clientVersion() };

  // modelInfo requests /revision/HEAD when no revision is given.
  const head = await modelInfo({ name: repo, hubUrl,
    additionalFields: ["sha"] });
  const main = await modelInfo({ name: repo, hubUrl, revision: "main",
    additionalFields: ["sha", "filePaths"] });
  report.modelInfo = {
    name: main.name,
    sha: main.sha,
    headSha: head.sha,
    filePaths: main.filePaths,
  };

  report.listFiles = await listEntries(repo, hubUrl);

  report.fileExists = {
    present: await fileExists({ repo, hubUrl, path: file }),
    missing: await fileExists({ repo, hubUrl, path: missing }),
  };

  const single = await downloadFile({ repo, hubUrl, path: file });
  report.downloadFile = single && await save(single, outDir, "single");
  const absent = await downloadFile({ repo, hubUrl, path: missing });
  report.downloadMissingIsNull = absent === null;

  // At main the client files the download under the commit id that
  // paths-info returns as lastCommit.id.
  report.cachedFile = await downloadFileToCacheDir({ repo, hubUrl,
    path: file, cacheDir });

  report.snapshot = await snapshotDownload({ repo, hubUrl, cacheDir });

  const withToken = await downloadFile({ repo, hubUrl, path: file,
    accessToken });
  report.downloadWithToken = withToken &&
    await save(withToken, outDir, "with-token");
  report.fileExistsWithToken = await fileExists({ repo, hubUrl,
    path: file, accessToken });

  report.published = await published(publishedRepo, hubUrl, cacheDir);

  // The client logs progress on stdout, so the report goes to a file.
  await writeFile(reportPath, JSON.stringify(report, null, 2) + "\n");
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
