#!/usr/bin/env node
// A `solc` executable for forge, backed by the pinned npm `solc` (a WebAssembly build).
// forge calls `solc --version` and `solc --standard-json [...]` with the input on stdin;
// this answers exactly those two and prints only the compiler's JSON on stdout.
'use strict';
const fs = require('fs');
const path = require('path');

const args = process.argv.slice(2);
if (args.includes('--version')) {
  process.stdout.write('solc, the solidity compiler commandline interface\n');
  process.stdout.write('Version: 0.8.30+commit.73712a01.Linux.g++\n');
  process.exit(0);
}
if (!args.includes('--standard-json')) {
  process.stderr.write('solc shim: only --version and --standard-json are supported\n');
  process.exit(2);
}

// This file is linked from .tools/bin/solc; node resolves the link, so __dirname is scripts/.
const solc = require(path.join(__dirname, '..', '.tools', 'npm', 'node_modules', 'solc'));
const input = fs.readFileSync(0, 'utf8');
// Imports that forge did not inline are read relative to the working directory.
const findImports = (p) => {
  try {
    return { contents: fs.readFileSync(path.resolve(process.cwd(), p), 'utf8') };
  } catch (e) {
    return { error: `file not found: ${p}` };
  }
};
process.stdout.write(solc.compile(input, { import: findImports }));
