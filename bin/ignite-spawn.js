#!/usr/bin/env node
'use strict';
// ignite-spawn, the per-VM supervisor: bundled and started like the CLI (see ignite.js).
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const bundle = join(__dirname, '..', 'dist', 'ignite-spawn.cjs');
if (existsSync(bundle)) require('./load-bundle.cjs').loadBundle(bundle);
else void import('../dist/spawn/main.js');
