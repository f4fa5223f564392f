#!/usr/bin/env node
'use strict';
// The bundled CLI (one file with a code cache, fast to start); the module tree when no bundle was
// built. CommonJS (bin/package.json): an ES module entry alone costs ~20 ms of loader start-up.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const bundle = join(__dirname, '..', 'dist', 'ignite.cjs');
if (existsSync(bundle)) require('./load-bundle.cjs').loadBundle(bundle);
else void import('../dist/cli/main.js');
