// Issue 10, case 4: the CLI finds the deployed stack's table and queues through its outputs.
import 'aws-sdk-client-mock-jest';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { StackNotDeployedError, chooseTable, readStack } from '../../../cli/stack-target';
import { parseDuration } from '../../../cli/history';

const OUTPUTS = [
  { OutputKey: 'TableName', OutputValue: 'SpotResponder-Table-ABC' },
  { OutputKey: 'DeadLetterQueueUrl', OutputValue: 'https://sqs/dlq' },
  { OutputKey: 'WarningDeadLetterQueueUrl', OutputValue: 'https://sqs/warnings-dlq' },
  { OutputKey: 'WarningQueueUrl', OutputValue: 'https://sqs/warnings' },
  { OutputKey: 'StateChangeDeadLetterQueueUrl', OutputValue: 'https://sqs/state-changes-dlq' },
  { OutputKey: 'StateChangeQueueUrl', OutputValue: 'https://sqs/state-changes' },
  { OutputKey: 'ResponderFunctionName', OutputValue: 'SpotResponder-Fn' },
];

function cfnWith(outputs = OUTPUTS) {
  const client = new CloudFormationClient({ region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
  const mock = mockClient(client);
  mock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'S', StackStatus: 'CREATE_COMPLETE', CreationTime: new Date(), Outputs: outputs }] });
  return { client, mock };
}

describe('chooseTable', () => {
  it('reads the TableName output of the default stack SpotResponder on a real account', async () => {
    const { client, mock } = cfnWith();
    const choice = await chooseTable({ region: 'eu-west-1' }, () => client, {});
    expect(choice).toMatchObject({ table: 'SpotResponder-Table-ABC', from: 'stack' });
    expect(mock).toHaveReceivedCommandWith(DescribeStacksCommand, { StackName: 'SpotResponder' });
  });

  it('--stack-name names the stack; on an emulator too', async () => {
    const { client, mock } = cfnWith();
    await chooseTable({ endpointUrl: 'http://127.0.0.1:5000', stackName: 'Blue' }, () => client, {});
    expect(mock).toHaveReceivedCommandWith(DescribeStacksCommand, { StackName: 'Blue' });
  });

  it('--table, then SPOT_RESPONDER_TABLE, override the stack; an emulator alone uses the local table; no call', async () => {
    const { client, mock } = cfnWith();
    await expect(chooseTable({ table: 'mine' }, () => client, {})).resolves.toMatchObject({ table: 'mine' });
    await expect(chooseTable({}, () => client, { SPOT_RESPONDER_TABLE: 'env' })).resolves.toMatchObject({ table: 'env' });
    await expect(chooseTable({ endpointUrl: 'http://127.0.0.1:5000' }, () => client, {})).resolves.toMatchObject({
      table: 'spot-responder',
    });
    expect(mock).not.toHaveReceivedCommand(DescribeStacksCommand);
  });

  it('a stack that does not exist is StackNotDeployedError, naming the stack and the region', async () => {
    const { client, mock } = cfnWith();
    mock
      .on(DescribeStacksCommand)
      .rejects(Object.assign(new Error('Stack with id SpotResponder does not exist'), { name: 'ValidationError' }));
    const err = await chooseTable({ region: 'eu-west-1' }, () => client, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StackNotDeployedError);
    expect((err as Error).message).toMatch(/stack SpotResponder is not deployed in eu-west-1/);
    // the table is all chooseTable reads from the stack: the flag that replaces it, and no other
    expect((err as Error).message).toMatch(/or name what the command reads directly \(--table\)$/);
  });

  it('any other CloudFormation error is raised as it is', async () => {
    const { client, mock } = cfnWith();
    mock.on(DescribeStacksCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDenied' }));
    await expect(chooseTable({}, () => client, {})).rejects.toMatchObject({ name: 'AccessDenied' });
  });

  it('a stack without a TableName output asks for --table', async () => {
    const { client } = cfnWith([]);
    await expect(chooseTable({}, () => client, {})).rejects.toThrow(/no TableName output; pass --table/);
  });
});

describe('readStack', () => {
  it('every *DeadLetterQueueUrl output is a DLQ; both queues and the function are named', async () => {
    const { client } = cfnWith();
    await expect(readStack({}, () => client)).resolves.toEqual({
      stackName: 'SpotResponder',
      tableName: 'SpotResponder-Table-ABC',
      responderFunctionName: 'SpotResponder-Fn',
      warningQueueUrl: 'https://sqs/warnings',
      stateChangeQueueUrl: 'https://sqs/state-changes',
      deadLetterQueues: [
        { outputKey: 'DeadLetterQueueUrl', url: 'https://sqs/dlq' },
        { outputKey: 'WarningDeadLetterQueueUrl', url: 'https://sqs/warnings-dlq' },
        { outputKey: 'StateChangeDeadLetterQueueUrl', url: 'https://sqs/state-changes-dlq' },
      ],
    });
  });
});

describe('--since durations', () => {
  it.each([
    ['30m', 1_800_000],
    ['6h', 21_600_000],
    ['7d', 604_800_000],
    ['1w', 604_800_000],
    ['2w', 1_209_600_000],
  ])('%s is %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['0d', '1y', '1.5h', 'w', '', '-1d', '9999999d'])('"%s" is refused with the accepted forms', (text) => {
    expect(() => parseDuration(text)).toThrow(/like 30m, 6h, 7d or 1w/);
  });
});
