import fc from 'fast-check';
import {
  ACTION_CLAIMABLE,
  ACTION_WINDOW_MS,
  CLAIM_STATUS,
  SIGNAL_CLAIMABLE,
  actedOnInstance,
  actionLeaseUntil,
  actionStatus,
  claimCondition,
  claimTargets,
  finishedStatus,
  firstHolder,
  isClaimable,
  unclaimedStatus,
  type ClaimItem,
} from '../../../lambda/core/claims';
import type { ActionResult } from '../../../lambda/core/model';
import type { ClaimKeys } from '../../../lambda/core/ports';
import { conditionHolds } from '../../support/mock-aws';

const NOW = '2024-05-03T10:00:30.000Z';
const BEFORE = '2024-05-03T10:00:29.999Z';
const AFTER = '2024-05-03T10:03:00.000Z';
const KEYS: ClaimKeys = {
  eventId: 'evt-1',
  signal: 'spot-interruption-warning',
  instanceId: 'i-0123456789abcdef0',
  eventTime: '2024-05-03T10:00:00Z',
  actsOnInstance: true,
};

describe('claimCondition', () => {
  it('writes an EVENT or signal key free when absent, FAILED, or IN_PROGRESS past its lease', () => {
    // Act
    const condition = claimCondition(SIGNAL_CLAIMABLE, NOW);

    // Assess
    expect(condition).toEqual({
      ConditionExpression: 'attribute_not_exists(pk) OR #status = :failed OR (#status = :inProgress AND #leaseUntil < :now)',
      ExpressionAttributeNames: { '#status': 'status', '#leaseUntil': 'leaseUntil' },
      ExpressionAttributeValues: { ':failed': 'FAILED', ':inProgress': 'IN_PROGRESS', ':now': NOW },
    });
  });

  it('writes an ACTION key free when absent, FAILED, RELEASED, or past its lease whatever its status', () => {
    // Act
    const condition = claimCondition(ACTION_CLAIMABLE, NOW);

    // Assess
    expect(condition).toEqual({
      ConditionExpression: 'attribute_not_exists(pk) OR #status IN (:failed, :released) OR #leaseUntil < :now',
      ExpressionAttributeNames: { '#status': 'status', '#leaseUntil': 'leaseUntil' },
      ExpressionAttributeValues: { ':failed': 'FAILED', ':released': 'RELEASED', ':now': NOW },
    });
  });
});

describe('isClaimable', () => {
  const item = (status: string | undefined, leaseUntil?: string): ClaimItem => ({
    pk: 'KEY',
    ...(status ? { status } : {}),
    ...(leaseUntil ? { leaseUntil } : {}),
  });

  it.each<[string, ClaimItem | undefined, boolean, boolean]>([
    // [case, item, EVENT/signal key free, ACTION key free]
    ['no item', undefined, true, true],
    ['FAILED', item('FAILED', AFTER), true, true],
    ['RELEASED within its lease', item('RELEASED', AFTER), false, true],
    ['IN_PROGRESS within its lease', item('IN_PROGRESS', AFTER), false, false],
    ['IN_PROGRESS with its lease passed', item('IN_PROGRESS', BEFORE), true, true],
    ['IN_PROGRESS with no lease', item('IN_PROGRESS'), false, false],
    ['IN_PROGRESS with the lease ending now', item('IN_PROGRESS', NOW), false, false],
    ['COMPLETED within its window', item('COMPLETED', AFTER), false, false],
    ['COMPLETED with its window passed', item('COMPLETED', BEFORE), false, true],
    ['COMPLETED with no lease (a record)', item('COMPLETED'), false, false],
    ['REJECTED', item('REJECTED'), false, false],
    ['SKIPPED', item('SKIPPED'), false, false],
    ['no status', item(undefined, BEFORE), false, true],
  ])('%s', (_, claimItem, signalFree, actionFree) => {
    // Act / Assess
    expect(isClaimable(SIGNAL_CLAIMABLE, claimItem, NOW)).toBe(signalFree);
    expect(isClaimable(ACTION_CLAIMABLE, claimItem, NOW)).toBe(actionFree);
  });

  it('agrees with the condition DynamoDB evaluates, for any item', () => {
    // Prepare: statuses the table holds and one it never should; leases around now, or none.
    const status = fc.option(fc.constantFrom(...Object.values(CLAIM_STATUS), 'UNKNOWN'), { nil: undefined });
    const lease = fc.option(
      fc.integer({ min: -120_000, max: 120_000 }).map((ms) => new Date(Date.parse(NOW) + ms).toISOString()),
      { nil: undefined },
    );
    const claimItem = fc.option(
      fc.record({ status, lease }).map(({ status: s, lease: l }) => ({
        pk: 'KEY',
        ...(s ? { status: s } : {}),
        ...(l ? { leaseUntil: l } : {}),
      })),
      { nil: undefined },
    );

    // Act / Assess
    fc.assert(
      fc.property(claimItem, fc.constantFrom(SIGNAL_CLAIMABLE, ACTION_CLAIMABLE), (it, parts) => {
        const c = claimCondition(parts, NOW);
        const dynamo = conditionHolds(c.ConditionExpression, it ?? {}, c.ExpressionAttributeNames, c.ExpressionAttributeValues);
        expect(isClaimable(parts, it, NOW)).toBe(dynamo);
      }),
    );
  });
});

describe('claimTargets', () => {
  it('puts EVENT#, then the signal key, then ACTION# for a response that acts', () => {
    // Act / Assess
    expect(claimTargets(KEYS).map((t) => t.pk)).toEqual([
      'EVENT#evt-1',
      `WARNING#${KEYS.instanceId}#${KEYS.eventTime}`,
      `ACTION#${KEYS.instanceId}`,
    ]);
    expect(claimTargets({ ...KEYS, signal: 'rebalance-recommendation', actsOnInstance: false }).map((t) => t.pk)).toEqual([
      'EVENT#evt-1',
      `REBALANCE#${KEYS.instanceId}#${KEYS.eventTime}`,
    ]);
  });
});

describe('firstHolder', () => {
  const event = { pk: 'EVENT#evt-1', eventId: 'evt-1', status: 'COMPLETED' };
  const warning = { pk: 'WARNING#...', owner: 'evt-0', status: 'IN_PROGRESS', leaseUntil: AFTER };
  const action = { pk: 'ACTION#...', owner: 'evt-rebalance', status: 'COMPLETED', leaseUntil: AFTER };

  it.each<[string, Array<ClaimItem | undefined>, ReturnType<typeof firstHolder>]>([
    ['every key free', [undefined, undefined, undefined], undefined],
    ['EVENT held: the event itself, by its eventId', [event, warning, action], { heldBy: 'evt-1', status: 'COMPLETED' }],
    ['the signal key held: its owner', [undefined, warning, action], { heldBy: 'evt-0', status: 'IN_PROGRESS' }],
    ['only ACTION held: its owner', [undefined, undefined, action], { heldBy: 'evt-rebalance', status: 'COMPLETED' }],
    [
      'a free key passed over',
      [{ ...event, status: 'FAILED' }, { ...warning, leaseUntil: BEFORE }, action],
      { heldBy: 'evt-rebalance', status: 'COMPLETED' },
    ],
    ['an item naming nobody: the claiming event, status UNKNOWN', [{ pk: 'EVENT#evt-1' }], { heldBy: 'evt-1', status: 'UNKNOWN' }],
  ])('%s', (_, items, holder) => {
    // Act / Assess
    expect(firstHolder(KEYS, items, NOW)).toEqual(holder);
  });
});

describe('the status after a response', () => {
  const done = (result: ActionResult['result'], action: ActionResult['action'] = 'detach'): ActionResult => ({
    action,
    target: 'web-asg',
    result,
    latencyMs: 1,
  });

  it.each<[string, ActionResult[], boolean]>([
    ['a detach that succeeded', [done('ok')], true],
    ['a target that was not registered', [done('not-registered', 'deregister')], true],
    ['a call a dry run planned', [done('planned')], true],
    ['only lookups', [done('ok', 'lookup')], false],
    ['a call that failed', [done('failed')], false],
    ['nothing', [], false],
  ])('acted on the instance: %s', (_, actions, acted) => {
    expect(actedOnInstance(actions)).toBe(acted);
  });

  it.each<[Parameters<typeof actionStatus>[0], boolean, string, string]>([
    // [outcome, acted, EVENT/signal status, ACTION status]
    ['handled', true, 'COMPLETED', 'COMPLETED'],
    ['handled', false, 'COMPLETED', 'RELEASED'],
    ['skipped', false, 'COMPLETED', 'RELEASED'],
    ['failed', true, 'FAILED', 'FAILED'],
    ['failed', false, 'FAILED', 'FAILED'],
  ])('%s, acted %s: %s, ACTION %s', (outcome, acted, status, action) => {
    expect(finishedStatus(outcome)).toBe(status);
    expect(actionStatus(outcome, acted)).toBe(action);
  });

  it('holds ACTION# for the window after the response finished, or after now when that is no time', () => {
    const now = new Date(NOW);
    expect(actionLeaseUntil('2024-05-03T10:00:31.000Z', now).toISOString()).toBe('2024-05-03T10:30:31.000Z');
    expect(actionLeaseUntil('not a time', now).getTime()).toBe(now.getTime() + ACTION_WINDOW_MS);
  });

  it.each([
    ['rejected', 'REJECTED'],
    ['skipped', 'SKIPPED'],
    ['duplicate', 'DUPLICATE'],
    ['failed', 'FAILED'],
    ['handled', 'COMPLETED'],
  ] as const)('records an unclaimed %s event as %s', (outcome, status) => {
    expect(unclaimedStatus(outcome)).toBe(status);
  });
});
