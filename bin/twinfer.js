#!/usr/bin/env node
// Entry of the `twinfer` command: the compiled CLI (built by `npm install` through `prepare`).
import '../dist/src/cli/main.js';
