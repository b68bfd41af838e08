#!/usr/bin/env node
// `spot-responder`, the package's bin. In a clone it runs the TypeScript CLI through tsx (no
// build step); the installed package ships no TypeScript sources, only the CLI compiled into
// dist/ (npm run build:package), and runs that.

// The AWS SDK warns once per client that Node 20 support ends; the Lambda runs Node 22, and
// on a terminal the warning only buries the output. Every other warning still prints.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = (warning, ...rest) => {
  const text = warning instanceof Error ? `${warning.name} ${warning.message}` : String(warning);
  if (text.includes('AWS SDK for JavaScript') && text.includes('node >=22')) return;
  emitWarning(warning, ...rest);
};

const fs = require('node:fs');
const path = require('node:path');

const source = path.join(__dirname, 'spot-responder.ts');
if (fs.existsSync(source)) {
  require('tsx/cjs');
  require(source);
} else {
  require(path.join(__dirname, '..', 'dist', 'bin', 'spot-responder.js'));
}
