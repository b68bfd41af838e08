// Three suites: unit (mocked SDK), stack (CDK assertions + cdk-nag), integration (moto server).
const transform = { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] };
// A test's timeout guards against a hang, it does not judge speed (benchmarks do): CI machines are
// shared, and the first test of a file also pays for loading the SDK, so jest's 5 s is too tight.
const base = { testEnvironment: 'node', transform, testTimeout: 30_000 };
module.exports = {
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'], setupFilesAfterEnv: ['aws-sdk-client-mock-jest'] },
    { ...base, displayName: 'stack', testMatch: ['<rootDir>/test/stack/**/*.test.ts'] },
    { ...base, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/moto-global-setup.ts', globalTeardown: '<rootDir>/test/support/moto-global-teardown.ts' },
  ],
};
