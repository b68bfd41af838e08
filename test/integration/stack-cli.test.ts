// The CLI finding a deployed stack through CloudFormation outputs, and `dlq list | redrive`
// against moto's SQS, through the real CLI. The stack here is a small template with the outputs
// SpotResponderStack has (TableName, the three *DeadLetterQueueUrl, WarningQueueUrl,
// StateChangeQueueUrl): moto's CloudFormation answers DescribeStacks as AWS does; the full app's
// deploy into moto is the deploy test's (dev/deploy-check.ts checks the real outputs).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CloudFormationClient, CreateStackCommand, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient, SendMessageCommand } from '@aws-sdk/client-sqs';
import { createReplayer, type Replayer } from '../../cli/replay';
import { spotWarningEvent, stateChangeEvent } from '../../cli/sample-events';
import { testEndpoint, useEmulator } from '../support/emulator-env';
import { destroyClients, eventTime, jsonLines, runCli, uniqueName } from '../support/integration';

useEmulator();

const SLOW_MS = 90_000;
const STACK = uniqueName('Stack');
const TABLE = uniqueName('stk-tbl');
const creds = { accessKeyId: 'testing', secretAccessKey: 'testing' };

let cfn: CloudFormationClient;
let sqs: SQSClient;
let replayer: Replayer;
let scratch: string;
let outputs: Record<string, string>;

beforeAll(async () => {
  const config = { endpoint: testEndpoint(), region: 'us-east-1', credentials: creds };
  cfn = new CloudFormationClient(config);
  sqs = new SQSClient(config);
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'spot-responder-stack-'));
  replayer = await createReplayer({ endpointUrl: testEndpoint(), table: TABLE, clock: 'wall', refreshIndex: false });
  const template = {
    Resources: {
      Dlq: { Type: 'AWS::SQS::Queue' },
      Warnings: { Type: 'AWS::SQS::Queue' },
      WarningsDlq: { Type: 'AWS::SQS::Queue' },
      StateChanges: { Type: 'AWS::SQS::Queue' },
      StateChangesDlq: { Type: 'AWS::SQS::Queue' },
    },
    Outputs: {
      TableName: { Value: TABLE },
      DeadLetterQueueUrl: { Value: { Ref: 'Dlq' } },
      WarningQueueUrl: { Value: { Ref: 'Warnings' } },
      WarningDeadLetterQueueUrl: { Value: { Ref: 'WarningsDlq' } },
      StateChangeQueueUrl: { Value: { Ref: 'StateChanges' } },
      StateChangeDeadLetterQueueUrl: { Value: { Ref: 'StateChangesDlq' } },
    },
  };
  await cfn.send(new CreateStackCommand({ StackName: STACK, TemplateBody: JSON.stringify(template) }));
  const out = await cfn.send(new DescribeStacksCommand({ StackName: STACK }));
  outputs = Object.fromEntries((out.Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
}, SLOW_MS);

afterAll(() => {
  cfn?.destroy();
  sqs?.destroy();
  if (replayer) destroyClients(replayer.clients);
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

describe('--stack-name', () => {
  it(
    'history reads the table named by the stack output; --account no longer swallows the file after it',
    async () => {
      // Prepare: one event recorded in the stack's table, through the CLI with --stack-name
      const warning = spotWarningEvent('i-0aaaaaaaaaaaaaaaa');
      const file = path.join(scratch, 'warning.json');
      fs.writeFileSync(file, JSON.stringify(warning));

      // Act
      const replay = await runCli([
        'replay', '--json', '--no-refresh-index', '--endpoint-url', testEndpoint(), '--stack-name', STACK,
        '--account', '123456789012', file,
      ]);
      const history = await runCli(['history', '--json', '--since', '1w', '--endpoint-url', testEndpoint(), '--stack-name', STACK]);
      const missing = await runCli(['history', '--endpoint-url', testEndpoint(), '--stack-name', 'NoSuchStack']);

      // Assess
      expect(replay.stderr).not.toMatch(/missing required argument/);
      expect(jsonLines(replay.stdout)).toEqual([expect.objectContaining({ eventId: warning.id })]);
      expect(jsonLines(history.stdout)).toEqual([expect.objectContaining({ eventId: warning.id })]);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/stack NoSuchStack is not deployed in us-east-1/);
    },
    SLOW_MS,
  );
});

describe('dlq', () => {
  it(
    'lists every DLQ of the stack (rule DLQ and the warning queue\'s), redrives each event to the queue its rule feeds, deletes them after',
    async () => {
      // Prepare
      const dlq = outputs.DeadLetterQueueUrl as string;
      const warningDlq = outputs.WarningDeadLetterQueueUrl as string;
      const events = outputs.WarningQueueUrl as string;
      const stateChanges = outputs.StateChangeQueueUrl as string;
      const first = spotWarningEvent('i-0bbbbbbbbbbbbbbbb');
      const second = spotWarningEvent('i-0cccccccccccccccc');
      const failedWarning = spotWarningEvent('i-0dddddddddddddddd');
      const stateChange = stateChangeEvent('i-0eeeeeeeeeeeeeeee', 'running');
      await sqs.send(new SendMessageCommand({ QueueUrl: warningDlq, MessageBody: JSON.stringify(failedWarning) }));
      await sqs.send(new SendMessageCommand({ QueueUrl: dlq, MessageBody: JSON.stringify(stateChange) }));
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: dlq,
          MessageBody: JSON.stringify(first),
          MessageAttributes: { ERROR_CODE: { DataType: 'String', StringValue: 'SDK_CLIENT_ERROR' } },
        }),
      );
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: dlq,
          MessageBody: JSON.stringify({ requestContext: { functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:f' }, requestPayload: second }),
        }),
      );
      const cli = (...args: string[]) => runCli(['dlq', ...args, '--json', '--endpoint-url', testEndpoint(), '--stack-name', STACK]);

      // Act
      const listed = await cli('list');
      const redriven = await cli('redrive');

      // Assess
      expect(listed.code).toBe(0);
      expect((jsonLines(listed.stdout) as Array<{ kind: string; eventId: string }>).map((l) => [l.kind, l.eventId]).sort()).toEqual(
        [
          ['eventbridge-rule-dlq', first.id],
          ['lambda-on-failure-record', second.id],
          ['event-queue-dlq', stateChange.id], // a bare event without EventBridge's error attributes
          ['event-queue-dlq', failedWarning.id],
        ].sort(),
      );
      expect(redriven.code).toBe(0);
      expect((jsonLines(redriven.stdout) as Array<{ result: string }>).map((l) => l.result)).toEqual(['redriven', 'redriven', 'redriven', 'redriven']);
      const idsIn = async (queueUrl: string) => {
        const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
        return (received.Messages ?? []).map((m) => (JSON.parse(m.Body ?? '{}') as { id: string }).id).sort();
      };
      expect(await idsIn(events)).toEqual([first.id, second.id, failedWarning.id].sort());
      expect(await idsIn(stateChanges)).toEqual([stateChange.id]);
      const left = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: dlq, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
      );
      expect(left.Attributes).toMatchObject({ ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' });
    },
    SLOW_MS,
  );
});

describe('dlq redrive without a stack, and what it holds back', () => {
  it(
    'with --queue-url, --warning-queue-url and --state-change-queue-url no stack is read; a terminate warning past its ' +
      'deadline (any shape) is listed and left, --delete-late deletes exactly those',
    async () => {
      // Prepare: queues of their own (no stack names them), a DLQ holding three late terminate
      // warnings, one per shape, beside a late stop warning and a state change that still go back
      const queue = async (name: string) => (await sqs.send(new CreateQueueCommand({ QueueName: uniqueName(name) }))).QueueUrl as string;
      const [dlq, warnings, stateChanges] = await Promise.all([queue('dlq'), queue('warn'), queue('state')]);
      const tenMinutesAgo = eventTime(-600_000);
      const lateInQueueDlq = spotWarningEvent('i-0f00000000000000a', { time: tenMinutesAgo });
      const lateFromRule = spotWarningEvent('i-0f00000000000000b', { time: tenMinutesAgo });
      const lateOnFailure = spotWarningEvent('i-0f00000000000000c', { time: tenMinutesAgo });
      const lateStop = spotWarningEvent('i-0f00000000000000d', { time: tenMinutesAgo, action: 'stop' });
      const stateChange = stateChangeEvent('i-0f00000000000000e', 'terminated', { time: tenMinutesAgo });
      const put = (body: unknown, attributes?: Record<string, string>) =>
        sqs.send(
          new SendMessageCommand({
            QueueUrl: dlq,
            MessageBody: JSON.stringify(body),
            ...(attributes
              ? { MessageAttributes: Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, { DataType: 'String', StringValue: v }])) }
              : {}),
          }),
        );
      await put(lateInQueueDlq);
      await put(lateFromRule, { ERROR_CODE: 'SDK_CLIENT_ERROR', RULE_ARN: 'arn:aws:events:us-east-1:123456789012:rule/warnings' });
      await put({ requestContext: { functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:f' }, requestPayload: lateOnFailure });
      await put(lateStop);
      await put(stateChange);
      const late = [lateInQueueDlq.id, lateFromRule.id, lateOnFailure.id].sort();
      const base = ['dlq', 'redrive', '--json', '--endpoint-url', testEndpoint(), '--stack-name', 'NoSuchStack', '--queue-url', dlq];
      const destinations = ['--warning-queue-url', warnings, '--state-change-queue-url', stateChanges];
      const depth = async (queueUrl: string) =>
        (
          await sqs.send(
            new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
          )
        ).Attributes;
      const idsIn = async (queueUrl: string) => {
        const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
        return (received.Messages ?? []).map((m) => (JSON.parse(m.Body ?? '{}') as { id: string }).id).sort();
      };

      // Act
      const noDestinations = await runCli(base);
      const redriven = await runCli([...base, ...destinations]);
      const afterRedrive = await depth(dlq);
      const deleted = await runCli([...base, ...destinations, '--delete-late']);

      // Assess: without the destinations the stack is needed, and the error names exactly those flags
      expect(noDestinations.code).toBe(2);
      expect(noDestinations.stderr).toMatch(
        /stack NoSuchStack is not deployed in us-east-1 .*name what the command reads directly \(--warning-queue-url and --state-change-queue-url\)/,
      );
      // with them: the stop warning and the state change go back; the late terminate warnings stay, listed with why
      expect(redriven).toMatchObject({ code: 0, stderr: '' });
      const results = jsonLines(redriven.stdout) as Array<{ eventId: string; kind: string; result: string; reason?: string }>;
      expect(results.filter((r) => r.result === 'redriven').map((r) => r.eventId).sort()).toEqual([lateStop.id, stateChange.id].sort());
      const lateLines = results.filter((r) => r.result === 'late');
      expect(lateLines.map((r) => r.eventId).sort()).toEqual(late);
      expect(lateLines.map((r) => r.kind).sort()).toEqual(['event-queue-dlq', 'eventbridge-rule-dlq', 'lambda-on-failure-record']);
      for (const line of lateLines) expect(line.reason).toMatch(/^too late to act: the instance was reclaimed \(a terminate warning of .*\); .*; left in the DLQ/);
      expect(await idsIn(warnings)).toEqual([lateStop.id]);
      expect(await idsIn(stateChanges)).toEqual([stateChange.id]);
      expect(afterRedrive).toMatchObject({ ApproximateNumberOfMessages: '3', ApproximateNumberOfMessagesNotVisible: '0' });
      // --delete-late: exactly those three deleted, nothing re-sent
      expect(deleted).toMatchObject({ code: 0, stderr: '' });
      const deletions = jsonLines(deleted.stdout) as Array<{ eventId: string; result: string }>;
      expect(deletions.map((r) => [r.eventId, r.result]).sort()).toEqual(late.map((id) => [id, 'deleted']));
      expect(await depth(dlq)).toMatchObject({ ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' });
      expect(await depth(warnings)).toMatchObject({ ApproximateNumberOfMessages: '0' });
    },
    SLOW_MS,
  );
});
