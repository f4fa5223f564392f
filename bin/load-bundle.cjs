'use strict';
// Runs one of the CommonJS bundles in dist/ with the V8 code cache made for it at build time
// (scripts/bundle.mjs). Compiling the ~2 MB bundle is much of a cold start, and every VM start
// runs two of them (the CLI, then ignite-spawn). V8 checks a cache against the source's length
// only, so a bundle ends with the SHA-256 of its own content (`//# ignite-build=<hex>`) and its
// cache starts with the same; a cache made from any other build is ignored, and the bundle then
// compiles as usual. Hashing the 2 MB here on every start would cost more than it saves.
//
// The build's cache holds what `--help` compiles. A VM's start runs much more, compiled lazily
// on first use in every process: so the first process that does that work (a `run`, a
// supervisor) leaves a trained cache beside the build's (`<file>.trained-cache`, tagged alike),
// which later processes take instead. Where the bundle's directory is not writable, nothing is
// trained and the build's cache serves.
const { readFileSync, renameSync, rmSync, writeFileSync } = require('node:fs');
const Module = require('node:module');
const { dirname } = require('node:path');
const { Script } = require('node:vm');

const BUILD_ID = /\/\/# ignite-build=([0-9a-f]{64})\s*$/;
/** See src/system/code-cache.ts. */
const TRAIN_HOOK = Symbol.for('ignite.trainCodeCache');

/** The V8 data of the cache file at `path` if it carries `tag`; undefined when it has none. */
function readCache(path, tag) {
  try {
    const cache = readFileSync(path);
    if (cache.subarray(0, tag.length).equals(tag)) return cache.subarray(tag.length);
  } catch {
    // No cache (a build without one, or a copied bundle).
  }
  return undefined;
}

/** Writes `tag` and the script's code cache to `path`, whole or not at all. */
function writeCache(path, tag, script) {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, Buffer.concat([tag, script.createCachedData()]), { mode: 0o644 });
    renameSync(tmp, path);
  } catch {
    // A directory the user cannot write (a package installed by root): the build's cache serves.
    rmSync(tmp, { force: true });
  }
}

/**
 * Runs `file` as the program's main module. With `writeCache`, writes `<file>.cache` as the
 * process exits, so the cache holds every function the run compiled, not only the top level.
 * Without a trained cache, the program may ask for one (src/system/code-cache.ts) once it has done
 * its work: it is written at exit, or `afterMs` later. Returns whether V8 took a cache, and
 * whether it was a trained one (for tests).
 */
function loadBundle(file, { writeCache: build = false } = {}) {
  // ASCII (scripts/bundle.mjs makes it so): Latin-1 reads it as UTF-8 would, at a quarter of the cost.
  const source = readFileSync(file, 'latin1');
  const id = BUILD_ID.exec(source.slice(-128));
  const tag = id ? Buffer.from(id[1], 'hex') : undefined;
  const trainedPath = `${file}.trained-cache`;
  let cachedData;
  let trained = false;
  if (tag && !build) {
    cachedData = readCache(trainedPath, tag);
    trained = cachedData !== undefined;
    cachedData ??= readCache(`${file}.cache`, tag);
  }
  const script = new Script(Module.wrap(source), {
    filename: file,
    ...(cachedData ? { cachedData } : {}),
  });
  const used = cachedData !== undefined && !script.cachedDataRejected;
  if (tag && build) process.once('exit', () => writeCache(`${file}.cache`, tag, script));
  else if (tag && !(trained && used)) {
    globalThis[TRAIN_HOOK] = ({ afterMs } = {}) => {
      delete globalThis[TRAIN_HOOK];
      let done = false;
      const write = () => {
        if (done) return;
        done = true;
        writeCache(trainedPath, tag, script);
      };
      process.once('exit', write);
      if (afterMs !== undefined) setTimeout(write, afterMs).unref();
    };
  }
  const mod = new Module(file);
  mod.filename = file;
  script.runInThisContext()(mod.exports, Module.createRequire(file), mod, file, dirname(file));
  return { cacheUsed: used, trained: used && trained };
}

module.exports = { loadBundle };
