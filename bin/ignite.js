#!/usr/bin/env node
// The bundled CLI (one file, fast to load); the module tree when no bundle was built.
import { existsSync } from 'node:fs';
await import(
  existsSync(new URL('../dist/ignite.mjs', import.meta.url))
    ? '../dist/ignite.mjs'
    : '../dist/cli/main.js'
);
