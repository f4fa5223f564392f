// Enforces the layering described in README "Architecture": lower layers never import higher ones.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'errors-is-a-leaf',
      severity: 'error',
      from: { path: '^src/errors\\.ts$' },
      to: { path: '^src/', pathNot: '^src/errors\\.ts$' },
    },
    {
      name: 'api-is-the-bottom',
      severity: 'error',
      from: { path: '^src/api/' },
      to: { path: '^src/', pathNot: '^src/(api/|errors\\.ts$)' },
    },
    {
      name: 'system-imports-only-below',
      severity: 'error',
      from: { path: '^src/system/' },
      to: { path: '^src/', pathNot: '^src/(system/|api/|errors\\.ts$)' },
    },
    {
      name: 'storage-imports-only-below',
      severity: 'error',
      from: { path: '^src/storage/' },
      to: { path: '^src/', pathNot: '^src/(storage/|system/|api/|errors\\.ts$)' },
    },
    {
      name: 'domain-modules-stay-below-operations',
      severity: 'error',
      from: { path: '^src/(image|vmm|network|metrics)/' },
      to: { path: '^src/(operations|cli|gitops|spawn|daemon|remote)/|^src/composition\\.ts$' },
    },
    {
      name: 'domain-modules-do-not-import-each-other',
      severity: 'error',
      from: { path: '^src/(image|vmm|network|metrics)/' },
      to: { path: '^src/(image|vmm|network|metrics)/', pathNot: '^src/$1/' },
    },
    {
      name: 'operations-below-front-ends',
      severity: 'error',
      from: { path: '^src/operations/' },
      to: { path: '^src/(cli|gitops|spawn|daemon|remote)/|^src/composition\\.ts$' },
    },
    {
      name: 'operations-reach-the-host-through-ports',
      comment:
        'Use cases touch files, processes and sockets only through the ports of src/operations/services.ts, so they run in process against fakes.',
      severity: 'error',
      from: { path: '^src/operations/', pathNot: '\\.test\\.ts$' },
      to: { dependencyTypes: ['core'], path: '^(node:)?(fs|fs/promises|child_process|net)$' },
    },
    {
      name: 'nothing-imports-the-cli',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'front-ends-are-entry-points',
      comment:
        'gitops, spawn and the daemon are reached only through their entries (one binary runs them all).',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(cli|gitops|spawn|daemon)/' },
      to: { path: '^src/(gitops|spawn|daemon)/' },
    },
    {
      name: 'the-daemon-is-not-the-cli',
      severity: 'error',
      from: { path: '^src/daemon/' },
      to: { path: '^src/(cli|spawn)/' },
    },
    {
      name: 'remote-is-a-client-only',
      comment:
        'The API client speaks HTTP to a daemon: it needs the API types and errors, nothing of the host.',
      severity: 'error',
      from: { path: '^src/remote/' },
      to: { path: '^src/', pathNot: '^src/(remote/|api/|errors\\.ts$|system/)' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.test\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
