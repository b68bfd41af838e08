// The Lambda entry builds configuration, clients and adapters once, at cold start.
const ENV = { TABLE_NAME: 'records', ACCEPTED_ACCOUNTS: '123456789012', ACCEPTED_REGIONS: 'us-east-1', AWS_REGION: 'us-east-1' };

describe('the Lambda entry (lambda/handler.ts)', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
    jest.resetModules();
  });

  it('fails at cold start, naming the variable, when configuration is missing', () => {
    // Prepare
    for (const name of Object.keys(ENV)) delete process.env[name];
    // Act / Assess
    jest.isolateModules(() => {
      expect(() => require('../../../lambda/handler')).toThrow('environment variable TABLE_NAME is required');
    });
  });

  it('exports a handler when configured, without calling AWS at load', () => {
    Object.assign(process.env, ENV);
    jest.isolateModules(() => {
      const { handler } = require('../../../lambda/handler') as { handler: unknown };
      expect(typeof handler).toBe('function');
    });
  });

  it('throws when it cannot record even a rejection, so Lambda retries and nothing is lost', async () => {
    // Prepare: an invalid event needs only one call, the record's PutItem; nothing listens on
    // the endpoint, so after the SDK's retries the handler must surface the failure.
    Object.assign(process.env, ENV, { AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', AWS_ENDPOINT_URL: 'http://127.0.0.1:9' });
    let handler: (event: unknown) => Promise<unknown> = async () => undefined;
    jest.isolateModules(() => {
      handler = (require('../../../lambda/handler') as { handler: typeof handler }).handler;
    });
    // Act / Assess
    await expect(handler('not an event')).rejects.toThrow();
  }, 30_000);
});
