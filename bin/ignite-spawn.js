#!/usr/bin/env node
import { existsSync } from 'node:fs';
await import(
  existsSync(new URL('../dist/ignite-spawn.mjs', import.meta.url))
    ? '../dist/ignite-spawn.mjs'
    : '../dist/spawn/main.js'
);
