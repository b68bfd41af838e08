#!/usr/bin/env node
// `npx spot-responder` runs the TypeScript CLI through tsx: no build step from a clone.

// The AWS SDK warns once per client that Node 20 support ends; the Lambda runs Node 22, and
// on a terminal the warning only buries the output. Every other warning still prints.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = (warning, ...rest) => {
  const text = warning instanceof Error ? `${warning.name} ${warning.message}` : String(warning);
  if (text.includes('AWS SDK for JavaScript') && text.includes('node >=22')) return;
  emitWarning(warning, ...rest);
};

require('tsx/cjs');
require('./spot-responder.ts');
