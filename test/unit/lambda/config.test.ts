import { DEFAULT_PACING } from '../../../lambda/aws/pacing';
import { ConfigError, loadIndexRefresherConfig, loadResponderConfig } from '../../../lambda/config';
import { DEFAULTS, INDEX_REFRESHER_ENV, RESPONDER_ENV } from '../../../lambda/contract';

const minimal = { TABLE_NAME: 'records', ACCEPTED_ACCOUNTS: '123456789012', ACCEPTED_REGIONS: 'us-east-1' };

describe('loadResponderConfig', () => {
  it('applies the documented defaults to a minimal environment', () => {
    expect(loadResponderConfig(minimal)).toEqual({
      tableName: 'records',
      acceptedAccounts: ['123456789012'],
      acceptedRegions: ['us-east-1'],
      recordRetentionDays: 90,
      mode: 'observe',
      rebalanceAction: 'record',
      tagPolicy: { mode: 'opt-out', key: 'spot-responder' },
      ecsClusters: [],
      scope: { autoScalingGroupNames: ['*'], targetGroupNames: ['*'] },
      apiPacing: DEFAULT_PACING,
      indexRefreshMinutes: 5,
    });
  });

  it('issue 9.4: reads the scope the IAM policy was built from, as JSON arrays of name patterns', () => {
    const config = loadResponderConfig({ ...minimal, AUTO_SCALING_GROUP_NAMES: '["web-*","a,b"]', TARGET_GROUP_NAMES: '["web-?"]' });
    expect(config.scope).toEqual({ autoScalingGroupNames: ['web-*', 'a,b'], targetGroupNames: ['web-?'] });
  });

  it('reads every setting', () => {
    const config = loadResponderConfig({
      ...minimal,
      ACCEPTED_ACCOUNTS: ' 111111111111, 222222222222 ',
      ACCEPTED_REGIONS: '*',
      RECORD_RETENTION_DAYS: '30',
      REBALANCE_ACTION: 'replace',
      RESPONSE_MODE: 'act',
      TAG_MODE: 'opt-in',
      TAG_KEY: 'team/spot',
      ECS_CLUSTERS: 'web, batch,,',
      API_PACING: 'auto-scaling=40/10',
      INDEX_REFRESH_MINUTES: '10',
    });
    expect(config).toMatchObject({
      acceptedAccounts: ['111111111111', '222222222222'],
      acceptedRegions: '*',
      recordRetentionDays: 30,
      rebalanceAction: 'replace',
      mode: 'act',
      tagPolicy: { mode: 'opt-in', key: 'team/spot' },
      ecsClusters: ['web', 'batch'],
      apiPacing: { ...DEFAULT_PACING, 'auto-scaling': { capacity: 40, refillPerSecond: 10 } },
      indexRefreshMinutes: 10,
    });
  });

  it.each(['TABLE_NAME', 'ACCEPTED_ACCOUNTS', 'ACCEPTED_REGIONS'])('fails at once, naming %s, when it is missing', (name) => {
    const env: Record<string, string | undefined> = { ...minimal, [name]: '  ' };
    expect(() => loadResponderConfig(env)).toThrow(new ConfigError(`environment variable ${name} is required`));
  });

  it.each([
    [{ RECORD_RETENTION_DAYS: '0' }, 'RECORD_RETENTION_DAYS must be a positive integer, got "0"'],
    [{ RECORD_RETENTION_DAYS: '1.5' }, 'RECORD_RETENTION_DAYS must be a positive integer, got "1.5"'],
    [{ REBALANCE_ACTION: 'act' }, 'REBALANCE_ACTION must be one of record, replace, got "act"'],
    [{ TAG_MODE: 'optout' }, 'TAG_MODE must be one of opt-out, opt-in, got "optout"'],
    [{ RESPONSE_MODE: 'dry-run' }, 'RESPONSE_MODE must be one of observe, act, got "dry-run"'],
    [{ ACCEPTED_ACCOUNTS: ' , ' }, 'ACCEPTED_ACCOUNTS lists nothing'],
    [{ AUTO_SCALING_GROUP_NAMES: 'web-*' }, 'AUTO_SCALING_GROUP_NAMES must be a JSON array of name patterns, got "web-*"'],
    [{ TARGET_GROUP_NAMES: '[]' }, 'TARGET_GROUP_NAMES must be a non-empty JSON array of name patterns, got []'],
    [{ TARGET_GROUP_NAMES: '["web", 3]' }, 'TARGET_GROUP_NAMES must be a non-empty JSON array'],
    [{ API_PACING: 'elbv2=20/4' }, 'API_PACING: API pacing entry "elbv2=20/4" is not'],
  ])('rejects %p with a clear message', (bad, message) => {
    expect(() => loadResponderConfig({ ...minimal, ...bad })).toThrow(message);
  });

  it("reads the contract's names and falls back on its defaults", () => {
    const env = {
      [RESPONDER_ENV.tableName]: 'records',
      [RESPONDER_ENV.acceptedAccounts]: '123456789012',
      [RESPONDER_ENV.acceptedRegions]: 'us-east-1',
    };
    expect(loadResponderConfig(env)).toMatchObject({
      recordRetentionDays: DEFAULTS.recordRetentionDays,
      rebalanceAction: DEFAULTS.rebalanceAction,
      tagPolicy: { mode: DEFAULTS.tagMode, key: DEFAULTS.tagKey },
    });
    expect(loadResponderConfig({ ...env, [RESPONDER_ENV.recordRetentionDays]: '7', [RESPONDER_ENV.tagKey]: 'k' }))
      .toMatchObject({ recordRetentionDays: 7, tagPolicy: { key: 'k' } });
  });

  it('names its errors ConfigError', () => {
    expect(() => loadResponderConfig({})).toThrow(expect.objectContaining({ name: 'ConfigError' }));
  });

  it('graceful shutdown: off unless SHUTDOWN_DOCUMENT is set; the default command and the tag key from the rest', () => {
    expect(loadResponderConfig(minimal).shutdown).toBeUndefined();
    expect(loadResponderConfig({ ...minimal, SHUTDOWN_DOCUMENT: 'Stack-GracefulShutdown', TAG_KEY: 'team' }).shutdown).toEqual({
      documentName: 'Stack-GracefulShutdown',
      tagKey: 'team:shutdown',
    });
    expect(loadResponderConfig({ ...minimal, SHUTDOWN_DOCUMENT: 'Stack-GracefulShutdown', SHUTDOWN_COMMAND: 'script:/opt/app/drain.sh' }).shutdown).toEqual({
      documentName: 'Stack-GracefulShutdown',
      tagKey: 'spot-responder:shutdown',
      defaultCommand: { script: '/opt/app/drain.sh' },
    });
  });

  it.each([
    [{ SHUTDOWN_DOCUMENT: 'a b' }, 'SHUTDOWN_DOCUMENT must be an SSM document name, got "a b"'],
    [{ SHUTDOWN_DOCUMENT: 'Doc-1', SHUTDOWN_COMMAND: 'unit:app' }, 'SHUTDOWN_COMMAND: "app" is not a systemd unit name'],
  ])('graceful shutdown: rejects %p with a clear message', (bad, message) => {
    expect(() => loadResponderConfig({ ...minimal, ...bad })).toThrow(message);
  });

  it('issue 9.9: reads the queues whose records it answers; unset or empty answers every source', () => {
    const warnings = 'arn:aws:sqs:us-east-1:123456789012:stack-WarningQueue1A2B';
    const states = 'arn:aws-cn:sqs:cn-north-1:123456789012:stack-StateChangeQueue.fifo';
    expect(loadResponderConfig({ ...minimal, [RESPONDER_ENV.acceptedQueueArns]: ` ${warnings}, ${states} ` }).acceptedSources).toEqual({
      queueArns: [warnings, states],
    });
    expect(loadResponderConfig(minimal)).not.toHaveProperty('acceptedSources');
    expect(loadResponderConfig({ ...minimal, [RESPONDER_ENV.acceptedQueueArns]: ' , ' })).not.toHaveProperty('acceptedSources');
  });

  it.each([
    'arn:aws:sns:us-east-1:123456789012:topic',
    'arn:aws:sqs:us-east-1:12345:queue',
    'https://sqs.us-east-1.amazonaws.com/123456789012/queue',
    'xarn:aws:sqs:us-east-1:123456789012:queue',
    'arn:aws:sqs:us-east-1:123456789012:queue/extra',
  ])('issue 9.9: refuses %s as an accepted queue, naming the variable', (bad) => {
    expect(() => loadResponderConfig({ ...minimal, [RESPONDER_ENV.acceptedQueueArns]: bad })).toThrow(
      new ConfigError(`environment variable ACCEPTED_QUEUE_ARNS must list SQS queue ARNs, got "${bad}"`),
    );
  });
});

describe('loadIndexRefresherConfig', () => {
  it('defaults to a 5-minute schedule and 4 describe calls per second', () => {
    expect(loadIndexRefresherConfig({ TABLE_NAME: 'records' })).toEqual({
      tableName: 'records',
      refreshIntervalMinutes: 5,
      describeCallsPerSecond: 4,
    });
  });

  it("reads the contract's names and falls back on its defaults", () => {
    expect(loadIndexRefresherConfig({ [INDEX_REFRESHER_ENV.tableName]: 'records' })).toEqual({
      tableName: 'records',
      refreshIntervalMinutes: DEFAULTS.indexRefreshMinutes,
      describeCallsPerSecond: DEFAULTS.indexDescribeCallsPerSecond,
    });
    expect(
      loadIndexRefresherConfig({
        [INDEX_REFRESHER_ENV.tableName]: 'records',
        [INDEX_REFRESHER_ENV.refreshMinutes]: '10',
        [INDEX_REFRESHER_ENV.describeCallsPerSecond]: '2',
      }),
    ).toMatchObject({ refreshIntervalMinutes: 10, describeCallsPerSecond: 2 });
  });

  it('rejects a rate that is not a positive integer', () => {
    expect(() => loadIndexRefresherConfig({ TABLE_NAME: 'records', INDEX_DESCRIBE_CALLS_PER_SECOND: '-1' })).toThrow(
      'INDEX_DESCRIBE_CALLS_PER_SECOND must be a positive integer',
    );
  });
});
