// Issue 10, case 4: replay recognises a wrapped event and unwraps it instead of recording a
// rejected, unidentified event.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadEventFiles } from '../../../cli/read-events';
import { unwrapEvent } from '../../../cli/wrapped-event';
import { loadEvent } from '../../support/fixtures';

const event = loadEvent('spot-interruption-warning/terminate.json');
const body = JSON.stringify(event);

describe('unwrapEvent', () => {
  it.each([
    [
      'a Lambda on-failure record (requestPayload)',
      {
        version: '1.0',
        timestamp: '2026-01-01T00:00:00Z',
        requestContext: { requestId: 'r', functionArn: 'arn:aws:lambda:us-east-1:1:function:f', condition: 'RetriesExhausted' },
        requestPayload: event,
        responseContext: { statusCode: 200, functionError: 'Unhandled' },
        responsePayload: { errorType: 'ResponseFailedError', errorMessage: 'AccessDenied' },
      },
      ['lambda-on-failure-record'],
    ],
    ['an SQS message (Body)', { MessageId: 'm-1', ReceiptHandle: 'h', Body: body }, ['sqs-message']],
    ['an SQS receive-message answer (Messages[].Body)', { Messages: [{ MessageId: 'm', Body: body }] }, ['sqs-receive-output']],
    ['an SQS batch (Records[].body)', { Records: [{ messageId: 'm', body, eventSource: 'aws:sqs' }] }, ['sqs-batch']],
    ['an SNS notification (Message)', { Type: 'Notification', MessageId: 'n', Message: body }, ['sns-notification']],
    ['an SNS Lambda event (Records[].Sns.Message)', { Records: [{ EventSource: 'aws:sns', Sns: { Message: body } }] }, ['sns-batch']],
    [
      'an SNS notification inside an SQS message',
      { MessageId: 'm', Body: JSON.stringify({ Type: 'Notification', Message: body }) },
      ['sqs-message', 'sns-notification'],
    ],
  ])('takes the event out of %s', (_name, wrapper, via) => {
    expect(unwrapEvent(wrapper)).toEqual({ events: [{ event, via }], problems: [] });
  });

  it('an SQS batch of several records gives every event, in order', () => {
    const second = { ...event, id: 'second' };
    const batch = { Records: [{ body }, { body: JSON.stringify(second) }] };
    expect(unwrapEvent(batch).events.map((e) => (e.event as { id: string }).id)).toEqual([event.id, 'second']);
  });

  it('leaves a bare event and an unknown object as they are', () => {
    expect(unwrapEvent(event)).toEqual({ events: [{ event, via: [] }], problems: [] });
    expect(unwrapEvent({ hello: 1 })).toEqual({ events: [{ event: { hello: 1 }, via: [] }], problems: [] });
    expect(unwrapEvent(null).events).toEqual([{ event: null, via: [] }]);
  });

  it('a body that is not JSON keeps its wrapper (replayed as it is, rejected) and says why', () => {
    const broken = { MessageId: 'm', Body: '{not json' };
    const result = unwrapEvent(broken);
    expect(result.events).toEqual([{ event: broken, via: [] }]);
    expect(result.problems).toEqual([expect.stringMatching(/^sqs-message: its content is not JSON/)]);
  });
});

describe('loadEventFiles unwraps what replay reads', () => {
  it('a saved on-failure record replays as its event', async () => {
    // Prepare
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wrapped-'));
    const file = path.join(dir, 'failure.json');
    fs.writeFileSync(file, JSON.stringify({ requestContext: { functionArn: 'arn:f' }, requestPayload: event }));
    const errors: string[] = [];

    // Act
    const { events } = await loadEventFiles([file], (l) => errors.push(l));

    // Assess
    expect(events).toEqual([event]);
    expect(errors).toEqual([]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
