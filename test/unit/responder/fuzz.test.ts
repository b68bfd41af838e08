// The responder fuzzed (issue 9: "The fuzz test keeps its 10,000 events: 0 unhandled
// exceptions, 0 mutations on bad input"). Hostile changes to the valid envelopes of
// test/fixtures (wrong types, missing fields, huge strings, unknown detail-types, foreign
// accounts and regions, deep nesting, "__proto__" keys) and whole non-objects.
//
// The runs are split because the mocked clients are slow, not the responder: through the
// whole responder an input costs about 4 ms, most of it in aws-sdk-client-mock's sinon
// matching of each command, so 10,000 end to end would take some 40 s on this machine.
//   - 10,000 inputs at the parse/plan boundary, the gate that keeps bad input from the fleet:
//     parseEvent never throws; a rejection becomes a record that fits DynamoDB's item limit;
//     an accepted notice gets its window and first plan without a throw.
//   - 2,000 inputs through respondBatch whole, one input per call (so each mutating call is
//     traced to the one input that caused it), on ONE mock world of test/support/mock-aws.ts
//     (the real adapters, claim, plan, execution and record) whose call history is reset
//     between inputs. The world acts on a valid warning (deregisters, detaches, drains ECS,
//     sends the shutdown command), so "no mutation" on a rejected input is not vacuous: the
//     test also checks that accepted inputs did mutate, through each of those APIs.
//   - 300 SQS batches of 1 to 8 bodies (JSON of those inputs, or text that is not JSON)
//     through makeHandler, the Lambda's entry point.
// parseEvent is the oracle for which inputs are rejected; the parser's own properties are in
// test/unit/events/properties.test.ts.
import fc from 'fast-check';
import { DetachInstancesCommand, TerminateInstanceInAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeContainerInstancesCommand, ListContainerInstancesCommand, UpdateContainerInstancesStateCommand } from '@aws-sdk/client-ecs';
import { DeregisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { SendCommandCommand } from '@aws-sdk/client-ssm';
import { PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSEvent } from 'aws-lambda';
import { DEFAULT_BEHAVIOUR } from '../../../lambda/core/behaviour';
import { responseWindow } from '../../../lambda/core/plan';
import { planBeforeLookups } from '../../../lambda/core/response-plan';
import { parseEvent } from '../../../lambda/events';
import { rejectedRecord } from '../../../lambda/response/records';
import { respondBatch } from '../../../lambda/responder';
import type { ResponseRecord } from '../../../lambda/core/model';
import type { ShutdownSettings } from '../../../lambda/core/shutdown';
import { fixturePolicy, loadEvent, validFixturePaths, type RawEvent } from '../../support/fixtures';
import { FLEET, eventTimeOf, mockAws, terminateWarning, type MockAws } from '../../support/mock-aws';

/** At the parse/plan boundary: where a rejected event stops and everything else gets its first plan. */
const BOUNDARY_RUNS = 10_000;
/** Through the whole responder, one input per respondBatch. */
const RUNS = 2_000;
/** SQS batches of 1 to 8 bodies through the Lambda's handler. */
const SQS_RUNS = 300;
/** DynamoDB's item size limit (bytes); every item the responder writes must fit. */
const ITEM_LIMIT_BYTES = 400 * 1024;

const VALID_FIXTURES = validFixturePaths().map(loadEvent);
const ENVELOPE_KEYS = ['version', 'id', 'detail-type', 'source', 'account', 'time', 'region', 'resources', 'detail'];
const DETAIL_KEYS = ['instance-id', 'instance-action', 'state', 'command-id', 'document-name', 'status'];
const HUGE = 'x'.repeat(500_000);
const CONTAINER_INSTANCE = 'arn:aws:ecs:us-east-1:123456789012:container-instance/web/6f1c9b7aead34a2cae8935440dedfabf';
const SHUTDOWN: ShutdownSettings = { documentName: 'SpotResponder-GracefulShutdown', defaultCommand: { systemdUnit: 'app.service' }, tagKey: 'spot-responder' };

/** {"a": {"a": ... }} `depth` levels down, or [[...]] for arrays. */
function nested(depth: number, asArray: boolean): unknown {
  let value: unknown = 'bottom';
  for (let i = 0; i < depth; i++) value = asArray ? [value] : { a: value };
  return value;
}

const deep = fc.tuple(fc.integer({ min: 20, max: 1_000 }), fc.boolean()).map(([depth, asArray]) => nested(depth, asArray));

/** A value to put where a field was: wrong types, huge or odd strings, foreign accounts and regions, deep nesting. */
const hostileValue = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(HUGE, '', ' ', '\u0000', 'i-', 'i-1234567890abcdef0\n', '1e400', -0, 1e308, [], {}, null, true) },
  { weight: 1, arbitrary: fc.string({ minLength: 250, maxLength: 5_000 }) },
  { weight: 1, arbitrary: fc.stringMatching(/^\d{12}$/) },
  { weight: 1, arbitrary: fc.constantFrom('eu-west-1', 'us-east-2', 'cn-north-1', 'us-gov-west-1', 'US-EAST-1', 'us-east-1 ') },
  { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
  { weight: 1, arbitrary: deep },
);

const hostileKey = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...ENVELOPE_KEYS, ...DETAIL_KEYS) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty') },
);

/** One change: set (or, with no value, remove) a field, top-level or in `detail`. */
const mutation = fc.record({ inDetail: fc.boolean(), key: hostileKey, value: fc.option(hostileValue, { nil: undefined, freq: 4 }) });
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(base: RawEvent, mutations: readonly Mutation[]): RawEvent {
  const event = structuredClone(base);
  for (const { inDetail, key, value } of mutations) {
    const detail = event.detail;
    const target = inDetail && typeof detail === 'object' && detail !== null && !Array.isArray(detail) ? (detail as RawEvent) : event;
    if (value === undefined) delete target[key];
    // Defined, not assigned: "__proto__" stays a plain field, as JSON.parse makes it.
    else Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return event;
}

/** Huge text (up to 600 KB, over DynamoDB's 400 KB item limit), foreign accounts and regions, unknown detail-types. */
const pointedValue = fc.oneof(
  fc.tuple(fc.constantFrom('x', 'é', '\u{1F600}'), fc.integer({ min: 300, max: 600_000 })).map(([c, n]) => c.repeat(n)),
  fc.stringMatching(/^\d{12}$/).filter((account) => account !== '123456789012'),
  fc.constantFrom('eu-west-1', 'us-east-2', 'cn-north-1', 'us-gov-west-1'),
  fc.constantFrom('EC2 Spot Instance Interruption Warning ', 'ec2 spot instance interruption warning', 'EC2 Instance Launch Successful', 'AWS API Call via CloudTrail'),
);

/** One known field of a fixture set to one pointed value: each case reached often, not once in 10,000. */
const pointed = fc
  .tuple(fc.constantFrom(...VALID_FIXTURES), fc.constantFrom(...ENVELOPE_KEYS, ...DETAIL_KEYS), pointedValue)
  .map(([base, key, value]) => mutate(base, [{ inDetail: DETAIL_KEYS.includes(key), key, value }]));

/** An input as EventBridge or a forger might hand it over: mostly a changed fixture (sometimes unchanged), else anything. */
const input: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 10, arbitrary: fc.tuple(fc.constantFrom(...VALID_FIXTURES), fc.array(mutation, { maxLength: 4 })).map(([base, m]) => mutate(base, m)) },
  { weight: 3, arbitrary: pointed },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  { weight: 1, arbitrary: deep },
  { weight: 1, arbitrary: fc.array(fc.constantFrom(...VALID_FIXTURES), { minLength: 1, maxLength: 2 }) },
);

/** The default world (mock-aws.ts), also draining ECS and sending the graceful-shutdown command. */
function actingWorld(): MockAws {
  const aws = mockAws({ now: eventTimeOf(terminateWarning()) + 5_000, ecsClusters: ['web'], shutdown: SHUTDOWN });
  aws.ecs.on(ListContainerInstancesCommand).resolves({ containerInstanceArns: [CONTAINER_INSTANCE] });
  aws.ecs.on(DescribeContainerInstancesCommand).resolves({
    containerInstances: [{ containerInstanceArn: CONTAINER_INSTANCE, ec2InstanceId: FLEET.instanceId, status: 'ACTIVE' }],
    failures: [],
  });
  return aws;
}

function resetHistory(aws: MockAws): void {
  for (const stub of [aws.ec2, aws.autoScaling, aws.elbv2, aws.dynamo, aws.ecs, aws.ssm]) stub.resetHistory();
}

/** Every mutating command the world received, by name. */
function mutationsSent(aws: MockAws): string[] {
  return [
    ...aws.elbv2.commandCalls(DeregisterTargetsCommand).map(() => 'DeregisterTargets'),
    ...aws.autoScaling.commandCalls(DetachInstancesCommand).map(() => 'DetachInstances'),
    ...aws.autoScaling.commandCalls(TerminateInstanceInAutoScalingGroupCommand).map(() => 'TerminateInstanceInAutoScalingGroup'),
    ...aws.ecs.commandCalls(UpdateContainerInstancesStateCommand).map(() => 'UpdateContainerInstancesState'),
    ...aws.ssm.commandCalls(SendCommandCommand).map(() => 'SendCommand'),
  ];
}

/** The largest item (or update) the responder wrote to DynamoDB, in bytes of its JSON. */
function largestWrite(aws: MockAws): number {
  const sizes = [
    ...aws.dynamo.commandCalls(PutCommand).map((c) => JSON.stringify(c.args[0].input.Item ?? {})),
    ...aws.dynamo.commandCalls(UpdateCommand).map((c) => JSON.stringify(c.args[0].input.ExpressionAttributeValues ?? {})),
    ...aws.dynamo.commandCalls(TransactWriteCommand).flatMap((c) =>
      (c.args[0].input.TransactItems ?? []).map((t) => JSON.stringify(t.Put?.Item ?? t.Update?.ExpressionAttributeValues ?? {})),
    ),
  ].map((json) => Buffer.byteLength(json, 'utf8'));
  return Math.max(0, ...sizes);
}

/** Unhandled rejections and uncaught exceptions while the test runs: the goal is none. */
function watchUnhandled(): { seen: unknown[]; stop(): void } {
  const seen: unknown[] = [];
  const onError = (err: unknown) => void seen.push(err);
  process.on('unhandledRejection', onError);
  process.on('uncaughtException', onError);
  return {
    seen,
    stop: () => {
      process.off('unhandledRejection', onError);
      process.off('uncaughtException', onError);
    },
  };
}

/**
 * A plain check for the hot loop: jest's expect costs more than the responder on 10,000 runs;
 * fast-check reports the input that failed it.
 */
function check(ok: boolean, what: string, actual?: unknown): void {
  if (!ok) throw new Error(`${what}${actual === undefined ? '' : `: ${JSON.stringify(actual)?.slice(0, 2_000)}`}`);
}

/** Lets any rejection left unhandled by the last input surface before the next one starts. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('the responder fuzzed with hostile events', () => {
  it(`keeps ${BOUNDARY_RUNS.toLocaleString('en')} mutated events at the parse/plan boundary: never a throw, every rejection recordable, every accepted notice planned`, () => {
    const receivedAt = eventTimeOf(terminateWarning()) + 5_000;
    let rejected = 0;
    fc.assert(
      fc.property(input, (raw) => {
        // Act
        const parsed = parseEvent(raw, fixturePolicy());

        // Assess
        if (!parsed.ok) {
          rejected++;
          const record = rejectedRecord(parsed.rejection, receivedAt, receivedAt);
          check(record.outcome === 'rejected' && record.eventId === parsed.rejection.eventId, 'a rejection becomes a rejected record under its id', record);
          const bytes = Buffer.byteLength(JSON.stringify(record), 'utf8');
          check(bytes < ITEM_LIMIT_BYTES, 'the rejected record fits DynamoDB', bytes);
          return;
        }
        const { signal } = parsed;
        if (signal.kind === 'spot-interruption-warning' || signal.kind === 'rebalance-recommendation') {
          const window = responseWindow(signal, receivedAt);
          check(Number.isFinite(window.deadline), 'a finite deadline', window);
          planBeforeLookups(signal, DEFAULT_BEHAVIOUR, window);
        }
      }),
      { numRuns: BOUNDARY_RUNS },
    );
    expect(rejected).toBeGreaterThan(BOUNDARY_RUNS / 4);
  }, 120_000);

  it(`answers ${RUNS.toLocaleString('en')} mutated events through respondBatch: one record each, never a throw, no mutation for a rejected one`, async () => {
    // Prepare
    const aws = actingWorld();
    const deps = aws.deps();
    const unhandled = watchUnhandled();
    const tally = { rejected: 0, accepted: 0, acceptedAndMutated: 0, mutationKinds: new Set<string>() };

    try {
      await fc.assert(
        fc.asyncProperty(input, async (raw) => {
          resetHistory(aws);
          const parsed = parseEvent(raw, fixturePolicy());

          // Act
          const records = await respondBatch([raw], deps);
          await settle();

          // Assess
          check(records.length === 1, 'one record per input', records);
          const record = records[0] as ResponseRecord;
          const mutations = mutationsSent(aws);
          check(largestWrite(aws) < ITEM_LIMIT_BYTES, 'every item written fits DynamoDB', largestWrite(aws));
          if (!parsed.ok) {
            tally.rejected++;
            check(record.outcome === 'rejected', 'a rejected input is recorded rejected', record);
            check(record.eventId === parsed.rejection.eventId && record.reason === parsed.rejection.reason, "with the parser's id and reason", record);
            check(mutations.length === 0, 'no mutating call for a rejected input', mutations);
          } else {
            tally.accepted++;
            check(record.outcome !== 'rejected' && record.eventId === parsed.signal.eventId, 'an accepted input is answered under its own id', record);
            if (mutations.length > 0) tally.acceptedAndMutated++;
            mutations.forEach((m) => tally.mutationKinds.add(m));
          }
          check(unhandled.seen.length === 0, 'no unhandled rejection or exception', unhandled.seen.map(String));
        }),
        { numRuns: RUNS },
      );
    } finally {
      unhandled.stop();
    }

    // The generator reached both sides, and accepted warnings did reach every mutating API.
    expect(tally.rejected).toBeGreaterThan(RUNS / 4);
    expect(tally.acceptedAndMutated).toBeGreaterThan(RUNS / 100);
    expect([...tally.mutationKinds].sort()).toEqual(['DeregisterTargets', 'DetachInstances', 'SendCommand', 'UpdateContainerInstancesState']);
  }, 120_000);

  it(`answers ${SQS_RUNS.toLocaleString('en')} SQS batches of hostile bodies through the handler: never a throw, rejected bodies never retried, no mutation unless a body was accepted`, async () => {
    // Prepare
    const aws = actingWorld();
    const handler = aws.handler();
    const unhandled = watchUnhandled();
    // A body is JSON of an input, or text that is not JSON at all.
    const body = fc.oneof({ weight: 9, arbitrary: input.map((raw) => JSON.stringify(raw) ?? 'null') }, { weight: 1, arbitrary: fc.string({ maxLength: 40 }) });
    let allRejectedBatches = 0;

    try {
      await fc.assert(
        fc.asyncProperty(fc.array(body, { minLength: 1, maxLength: 8 }), async (bodies) => {
          resetHistory(aws);
          const event: SQSEvent = {
            Records: bodies.map((text, i) => ({
              messageId: `m-${i}`,
              receiptHandle: `r-${i}`,
              body: text,
              attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 'events', ApproximateFirstReceiveTimestamp: '0' },
              messageAttributes: {},
              md5OfBody: '',
              eventSource: 'aws:sqs',
              eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:spot-responder-warnings',
              awsRegion: 'us-east-1',
            })),
          };
          const accepted = bodies.map((text) => {
            let raw: unknown = text;
            try {
              raw = JSON.parse(text) as unknown;
            } catch {
              // Not JSON: the handler answers the text itself.
            }
            return parseEvent(raw, fixturePolicy()).ok;
          });

          // Act
          const response = (await handler(event)) as { batchItemFailures: Array<{ itemIdentifier: string }> };
          await settle();

          // Assess
          const failed = response.batchItemFailures.map((f) => f.itemIdentifier);
          check(new Set(failed).size === failed.length, 'each failure reported once', failed);
          check(failed.every((id) => accepted[Number(id.slice(2))] === true), 'a rejected body is never handed back for a retry', failed);
          check(largestWrite(aws) < ITEM_LIMIT_BYTES, 'every item written fits DynamoDB', largestWrite(aws));
          if (accepted.every((ok) => !ok)) {
            allRejectedBatches++;
            check(mutationsSent(aws).length === 0, 'no mutating call for a batch of rejected bodies', mutationsSent(aws));
            check(aws.dynamo.commandCalls(PutCommand).length === bodies.length, 'each rejected body recorded once', aws.dynamo.commandCalls(PutCommand).length);
          }
          check(unhandled.seen.length === 0, 'no unhandled rejection or exception', unhandled.seen.map(String));
        }),
        { numRuns: SQS_RUNS },
      );
    } finally {
      unhandled.stop();
    }

    expect(allRejectedBatches).toBeGreaterThan(SQS_RUNS / 20);
  }, 120_000);
});
