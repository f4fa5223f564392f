#!/usr/bin/env node
'use strict';
// The bundled CLI (one file with a code cache, fast to start); the module tree when no bundle was
// built. CommonJS (bin/package.json): an ES module entry alone costs ~20 ms of loader start-up.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const bundle = join(__dirname, '..', 'dist', 'ignite.cjs');
if (existsSync(bundle)) {
  // A VM's start needs the host supervisor: when none runs, it is started now, to load while the
  // CLI does (src/cli/early-supervisor.ts). Other commands do not load even that.
  const argv = process.argv.slice(2);
  const early = join(__dirname, '..', 'dist', 'ignite-early.cjs');
  if ((argv.includes('run') || argv.includes('start')) && existsSync(early))
    require(early).startSupervisorEarly(argv, process.env);
  require('./load-bundle.cjs').loadBundle(bundle);
} else void import('../dist/cli/main.js');
