import { parseEvent, type AcceptPolicy } from '../../../lambda/events';
import { eventWith, loadEvent, validFixturePaths } from '../../support/fixtures';

const TERMINATE = 'spot-interruption-warning/terminate.json';
const FOREIGN_ACCOUNT = 'account "210987654321" is not accepted (to respond to it, add it to acceptedAccounts: the construct prop or the spotResponder:acceptedAccounts context key; replay: --account)';
const FOREIGN_REGION = 'region "eu-west-1" is not accepted (to respond to it, add it to acceptedRegions: the construct prop or the spotResponder:acceptedRegions context key)';

function reasonOf(policy: AcceptPolicy, changes: Record<string, unknown> = {}): string | null {
  const parsed = parseEvent(eventWith(loadEvent(TERMINATE), changes), policy);
  return parsed.ok ? null : parsed.rejection.reason;
}

describe('accept policy', () => {
  it('"*" accepts any account and any region', () => {
    // Prepare
    const policy: AcceptPolicy = { accounts: '*', regions: '*' };

    // Act
    const parsed = parseEvent(eventWith(loadEvent(TERMINATE), { account: '210987654321', region: 'eu-west-1' }), policy);

    // Assess
    expect(parsed).toMatchObject({ ok: true, signal: { account: '210987654321', region: 'eu-west-1' } });
  });

  it.each(['123456789012', '210987654321'])('a list accepts each account on it (%s)', (account) => {
    // Prepare
    const policy: AcceptPolicy = { accounts: ['123456789012', '210987654321'], regions: '*' };

    // Act
    const reason = reasonOf(policy, { account });

    // Assess
    expect(reason).toBeNull();
  });

  it.each(['us-east-1', 'eu-west-1'])('a list accepts each region on it (%s)', (region) => {
    // Prepare
    const policy: AcceptPolicy = { accounts: '*', regions: ['us-east-1', 'eu-west-1'] };

    // Act
    const reason = reasonOf(policy, { region });

    // Assess
    expect(reason).toBeNull();
  });

  it('rejects an account not on the list, naming it and the setting', () => {
    // Act
    const reason = reasonOf({ accounts: ['123456789012'], regions: '*' }, { account: '210987654321' });

    // Assess
    expect(reason).toBe(FOREIGN_ACCOUNT);
  });

  it('rejects a region not on the list, naming it and the setting', () => {
    // Act
    const reason = reasonOf({ accounts: '*', regions: ['us-east-1'] }, { region: 'eu-west-1' });

    // Assess
    expect(reason).toBe(FOREIGN_REGION);
  });

  it('reports both when neither account nor region is accepted', () => {
    // Act
    const reason = reasonOf(
      { accounts: ['123456789012'], regions: ['us-east-1'] },
      { account: '210987654321', region: 'eu-west-1' },
    );

    // Assess
    expect(reason).toBe(`${FOREIGN_ACCOUNT}; ${FOREIGN_REGION}`);
  });

  it('matches exactly: no prefixes, no case folding', () => {
    // Act
    const reason = reasonOf({ accounts: '*', regions: ['us-east-1'] }, { region: 'us-east-10' });

    // Assess
    expect(reason).toBe('region "us-east-10" is not accepted (to respond to it, add it to acceptedRegions: the construct prop or the spotResponder:acceptedRegions context key)');
  });

  it('an empty list accepts nothing', () => {
    // Act
    const reason = reasonOf({ accounts: [], regions: '*' });

    // Assess
    expect(reason).toBe('account "123456789012" is not accepted (to respond to it, add it to acceptedAccounts: the construct prop or the spotResponder:acceptedAccounts context key; replay: --account)');
  });

  it('does not hold a malformed account against the policy: its shape is the problem', () => {
    // Act
    const reason = reasonOf({ accounts: ['123456789012'], regions: '*' }, { account: '42' });

    // Assess
    expect(reason).toBe('account "42" is not a 12-digit AWS account id');
  });

  it('applies to unsupported detail-types too', () => {
    // Act
    const reason = reasonOf(
      { accounts: ['123456789012'], regions: '*' },
      { 'detail-type': 'EC2 Spot Instance Request Fulfillment', account: '210987654321' },
    );

    // Assess
    expect(reason).toBe(`unsupported detail-type "EC2 Spot Instance Request Fulfillment"; ${FOREIGN_ACCOUNT}`);
  });

  it.each(validFixturePaths())('applies to every kind of event: %s from a foreign account is not accepted', (path) => {
    // Prepare
    const event = eventWith(loadEvent(path), { account: '210987654321' });

    // Act
    const parsed = parseEvent(event, { accounts: ['123456789012'], regions: '*' });

    // Assess
    expect(parsed).toMatchObject({ ok: false, rejection: { kind: 'not-accepted', reason: FOREIGN_ACCOUNT, account: '210987654321' } });
  });
});
