#!/usr/bin/env node
'use strict';
// ignited, the host daemon: bundled and started like the CLI (see ignite.js).
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const bundle = join(__dirname, '..', 'dist', 'ignited.cjs');
if (existsSync(bundle)) require('./load-bundle.cjs').loadBundle(bundle);
else void import('../dist/daemon/main.js');
