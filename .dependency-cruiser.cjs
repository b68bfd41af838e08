// Import rules checked by `npm run check:deps` (part of `npm test`).
// The Lambda bundle must stay self-contained (esbuild bundles lambda/ alone), the construct must
// not pull in the CLI or the emulator harness, and no module may reach itself through its imports.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle makes load order matter and hides which module owns a type.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'lambda-stands-alone',
      severity: 'error',
      comment: 'lambda/ is bundled into the function: it imports no CDK, CLI or development code.',
      from: { path: '^lambda/' },
      to: { path: '^(lib|cli|bin|dev|bench|test)/' },
    },
    {
      name: 'construct-without-tooling',
      severity: 'error',
      comment: 'lib/ is the construct: it imports neither the CLI nor the development harness.',
      from: { path: '^lib/' },
      to: { path: '^(cli|dev|bench|test)/' },
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to nothing fails at run time.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|cdk\\.out|\\.venv)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['cjs', 'es6'],
    // Resolve package subpaths (tsx/cjs) through their `exports` the way Node does.
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['require', 'node', 'default', 'types'],
    },
  },
};
