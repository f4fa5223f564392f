#!/usr/bin/env node
import '../dist/spawn/main.js';
