// Bundles the entry points into single CommonJS files (dist/ignite.cjs, dist/ignite-spawn.cjs,
// dist/ignited.cjs), each with a V8 code cache beside it (bin/load-bundle.cjs): one file
// loads much faster than hundreds of modules, a cached one faster still, and every VM start runs
// both.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';

const root = join(import.meta.dirname, '..');
const require = createRequire(import.meta.url);

/**
 * etcd3 reads its gRPC service definitions from .proto files beside its code when it loads; a
 * bundle has no such files, so the definitions are compiled into it (proto-loader's fromJSON
 * takes what loadSync would have read).
 */
const etcdProtos = {
  name: 'etcd3-protos',
  setup(b) {
    b.onLoad({ filter: /[\\/]etcd3[\\/]lib[\\/]connection-pool\.js$/ }, (args) => {
      const protobuf = require(require.resolve('protobufjs', { paths: [dirname(args.path)] }));
      const file = join(dirname(args.path), '../proto/rpc.proto');
      const json = new protobuf.Root().loadSync(file, { keepCase: true }).toJSON();
      const src = readFileSync(args.path, 'utf8');
      const call = '(0, proto_loader_1.loadSync)(`${__dirname}/../proto/rpc.proto`, {';
      if (!src.includes(call))
        throw new Error(`${args.path}: rpc.proto is no longer loaded as expected`);
      return {
        contents: src.replace(call, `(0, proto_loader_1.fromJSON)(${JSON.stringify(json)}, {`),
        loader: 'js',
      };
    });
  },
};
/** One CommonJS file for Node 20, where `import.meta` does not exist. */
const cjs = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  define: { 'import.meta.dirname': '__dirname' },
  logLevel: 'warning',
};

// What bin/ignite.js runs before the CLI's bundle, to start the host supervisor early
// (src/cli/early-supervisor.ts): a few small modules, quick to load without a cache.
await build({
  ...cjs,
  entryPoints: [join(root, 'src/cli/early-supervisor.ts')],
  outfile: join(root, 'dist/ignite-early.cjs'),
});

for (const [entry, out] of [
  ['src/cli/main.ts', 'dist/ignite.cjs'],
  ['src/spawn/main.ts', 'dist/ignite-spawn.cjs'],
  ['src/daemon/main.ts', 'dist/ignited.cjs'],
]) {
  const file = join(root, out);
  rmSync(`${file}.cache`, { force: true });
  // A trained cache carries its build's tag and is ignored by any other; gone, it is not shipped.
  rmSync(`${file}.trained-cache`, { force: true });
  await build({
    ...cjs,
    entryPoints: [join(root, entry)],
    outfile: file,
    plugins: [etcdProtos],
  });
  // The loader reads a bundle as Latin-1, which costs a quarter of decoding UTF-8, so a bundle
  // must be ASCII. esbuild escapes every other character in code; what is left is in comments,
  // where an escape means the same to a reader.
  const text = readFileSync(file, 'utf8').replace(
    /[^\x00-\x7f]/gu,
    (c) => `\\u{${c.codePointAt(0).toString(16)}}`,
  );
  writeFileSync(file, text);
  // The build's identity, which its code cache must carry (see bin/load-bundle.cjs).
  const id = createHash('sha256').update(text).digest('hex');
  appendFileSync(file, `//# ignite-build=${id}\n`);
  // The cache is taken after a run of --help, so it holds the functions start-up compiles, not
  // only the top level; the run's output is not wanted.
  execFileSync(
    process.execPath,
    [
      '-e',
      `require(${JSON.stringify(join(root, 'bin/load-bundle.cjs'))}).loadBundle(${JSON.stringify(file)}, { writeCache: true })`,
      '--',
      file, // argv[1], as when a launcher runs it
      '--help',
    ],
    { stdio: 'ignore' },
  );
}
