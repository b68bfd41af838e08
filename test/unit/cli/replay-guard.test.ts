// `replay` without --dry-run acts on the fleet: it refuses a real account from its flags alone,
// before any credentials, region or stack is resolved (so a user without credentials reads why,
// not "Could not load credentials from any providers").
import { RealAccountError, assertReplayAllowed } from '../../../cli/replay';

describe('assertReplayAllowed', () => {
  it.each([
    ['no --endpoint-url', {}],
    ['an AWS endpoint (a real account all the same)', { endpointUrl: 'https://dynamodb.eu-west-1.amazonaws.com' }],
    ['a VPC endpoint of AWS', { endpointUrl: 'https://vpce-0a1b-2c3d.sqs.us-east-1.vpce.amazonaws.com' }],
  ])('refuses %s without --dry-run, with the helpful text', (_what, flags) => {
    expect(() => assertReplayAllowed(flags)).toThrow(RealAccountError);
    expect(() => assertReplayAllowed(flags)).toThrow(
      'replay acts on the fleet and would change a real account: pass --endpoint-url <url> to replay against an emulator, ' +
        'or --dry-run to only read and print what it would do',
    );
  });

  it.each([
    ['an emulator', { endpointUrl: 'http://127.0.0.1:5000' }],
    ['a real account with --dry-run', { dryRun: true }],
    ['an AWS endpoint with --dry-run', { dryRun: true, endpointUrl: 'https://sqs.us-east-1.amazonaws.com' }],
  ])('lets %s through', (_what, flags) => {
    expect(() => assertReplayAllowed(flags)).not.toThrow();
  });
});
