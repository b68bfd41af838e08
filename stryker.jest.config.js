// The jest project StrykerJS runs for each mutant (stryker.config.json): only the unit tests
// of the decision code, without the moto integration suite or the CDK stack tests.
const transform = { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] };
module.exports = {
  testEnvironment: 'node',
  transform,
  testMatch: ['<rootDir>/test/unit/core/**/*.test.ts', '<rootDir>/test/unit/events/**/*.test.ts'],
  setupFilesAfterEnv: ['aws-sdk-client-mock-jest'],
};
