'use strict';
// Runs one of the CommonJS bundles in dist/ with the V8 code cache made for it at build time
// (scripts/bundle.mjs). Compiling the ~2 MB bundle is much of a cold start, and every VM start
// runs two of them (the CLI, then ignite-spawn). V8 checks a cache against the source's length
// only, so a bundle ends with the SHA-256 of its own content (`//# ignite-build=<hex>`) and its
// cache starts with the same; a cache made from any other build is ignored, and the bundle then
// compiles as usual. Hashing the 2 MB here on every start would cost more than it saves.
const { readFileSync, renameSync, writeFileSync } = require('node:fs');
const Module = require('node:module');
const { dirname } = require('node:path');
const { Script } = require('node:vm');

const BUILD_ID = /\/\/# ignite-build=([0-9a-f]{64})\s*$/;

/**
 * Runs `file` as the program's main module. With `writeCache`, writes `<file>.cache` as the
 * process exits, so the cache holds every function the run compiled, not only the top level.
 * Returns whether V8 took the cache (for tests).
 */
function loadBundle(file, { writeCache = false } = {}) {
  // ASCII (scripts/bundle.mjs makes it so): Latin-1 reads it as UTF-8 would, at a quarter of the cost.
  const source = readFileSync(file, 'latin1');
  const id = BUILD_ID.exec(source.slice(-128));
  const tag = id ? Buffer.from(id[1], 'hex') : undefined;
  let cachedData;
  if (tag && !writeCache) {
    try {
      const cache = readFileSync(`${file}.cache`);
      if (cache.subarray(0, tag.length).equals(tag)) cachedData = cache.subarray(tag.length);
    } catch {
      // No cache (a build without one, or a copied bundle): compile from source.
    }
  }
  const script = new Script(Module.wrap(source), {
    filename: file,
    ...(cachedData ? { cachedData } : {}),
  });
  if (tag && writeCache) {
    process.once('exit', () => {
      writeFileSync(`${file}.cache.tmp`, Buffer.concat([tag, script.createCachedData()]));
      renameSync(`${file}.cache.tmp`, `${file}.cache`);
    });
  }
  const mod = new Module(file);
  mod.filename = file;
  script.runInThisContext()(mod.exports, Module.createRequire(file), mod, file, dirname(file));
  return { cacheUsed: cachedData !== undefined && !script.cachedDataRejected };
}

module.exports = { loadBundle };
