// The buffer in front of the responder: EventBridge -> SQS (encrypted, TLS only, its own DLQ)
// -> event source mapping with partial batch responses, a short batching window and bounded
// concurrency. Wiring only; the handler's side is in test/unit.
import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { STATE_CHANGE_BUFFER, WARNING_BUFFER } from '../../lib/defaults';
import { SpotResponder } from '../../lib/spot-responder';
import { SpotResponderConfigError } from '../../lib/validation';
import { testApp } from './helpers';

let defaults: { stack: Stack; template: Template; responder: SpotResponder };
let tuned: { stack: Stack; template: Template; responder: SpotResponder };

beforeAll(() => {
  const app = testApp();
  const defaultStack = new Stack(app, 'BufferDefaults');
  const defaultResponder = new SpotResponder(defaultStack, 'SpotResponder');
  const tunedStack = new Stack(app, 'BufferTuned');
  const tunedResponder = new SpotResponder(tunedStack, 'SpotResponder', {
    batchSize: 10,
    maxBatchingWindow: Duration.seconds(0),
    maxConcurrency: 20,
  });
  app.synth();
  defaults = { stack: defaultStack, template: Template.fromStack(defaultStack), responder: defaultResponder };
  tuned = { stack: tunedStack, template: Template.fromStack(tunedStack), responder: tunedResponder };
}, 120_000);

const resolve = (stack: Stack, value: unknown) => stack.resolve(value);

describe('buffer queues', () => {
  test('the warning queue is SSE-SQS encrypted, redrives to its own DLQ after 3 receives, and outlasts the function timeout', () => {
    const { template, stack, responder } = defaults;
    const { queue, deadLetterQueue } = responder.warningBuffer;
    const [queueResource] = Object.values(
      template.findResources('AWS::SQS::Queue', {
        Properties: { RedrivePolicy: { deadLetterTargetArn: resolve(stack, deadLetterQueue.queueArn) } },
      }),
    );
    expect(queueResource!.Properties).toEqual(
      expect.objectContaining({
        SqsManagedSseEnabled: true,
        VisibilityTimeout: 180,
        MessageRetentionPeriod: 24 * 3600,
        RedrivePolicy: { deadLetterTargetArn: resolve(stack, deadLetterQueue.queueArn), maxReceiveCount: 3 },
      }),
    );
    expect(resolve(stack, queue.queueArn)).not.toEqual(resolve(stack, responder.deadLetterQueue.queueArn));
    const timeout = Object.values(template.findResources('AWS::Lambda::Function')).find(
      (fn) => fn.Properties.Description?.startsWith('Drains, replaces'),
    )!.Properties.Timeout as number;
    expect(WARNING_BUFFER.visibilityTimeout.toSeconds()).toBeGreaterThanOrEqual(timeout);
    expect(STATE_CHANGE_BUFFER.visibilityTimeout.toSeconds()).toBeGreaterThanOrEqual(timeout);
  });

  test('the state changes have their own queue and DLQ, with more receives', () => {
    const { template, stack, responder } = defaults;
    const { queue, deadLetterQueue } = responder.stateChangeBuffer;
    expect(resolve(stack, queue.queueArn)).not.toEqual(resolve(stack, responder.warningBuffer.queue.queueArn));
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: resolve(stack, deadLetterQueue.queueArn), maxReceiveCount: 5 },
    });
  });

  test.each([
    ['warning queue', (r: SpotResponder) => r.warningBuffer.queue],
    ['warning DLQ', (r: SpotResponder) => r.warningBuffer.deadLetterQueue],
    ['state-change queue', (r: SpotResponder) => r.stateChangeBuffer.queue],
    ['state-change DLQ', (r: SpotResponder) => r.stateChangeBuffer.deadLetterQueue],
  ])('the %s refuses every request without TLS', (_name, pick) => {
    const { template, stack, responder } = defaults;
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [resolve(stack, pick(responder).queueUrl)],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'sqs:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  test('EventBridge may send to each queue only for the rules that feed it', () => {
    const { template, stack, responder } = defaults;
    const allowsOf = (queueUrl: string) => {
      const [policy] = Object.values(
        template.findResources('AWS::SQS::QueuePolicy', { Properties: { Queues: [resolve(stack, queueUrl)] } }),
      );
      return (policy!.Properties.PolicyDocument.Statement as Record<string, unknown>[]).filter(
        (statement) => statement.Effect === 'Allow',
      );
    };
    const sourceArn = (rule: { ruleArn: string }) => ({ ArnEquals: { 'aws:SourceArn': resolve(stack, rule.ruleArn) } });
    const warningAllows = allowsOf(responder.warningBuffer.queue.queueUrl);
    expect(warningAllows.map((s) => s.Condition)).toEqual(
      expect.arrayContaining([sourceArn(responder.interruptionWarningRule), sourceArn(responder.rebalanceRecommendationRule)]),
    );
    expect(warningAllows).toHaveLength(2);
    const stateAllows = allowsOf(responder.stateChangeBuffer.queue.queueUrl);
    expect(stateAllows.map((s) => s.Condition)).toEqual([sourceArn(responder.instanceStateChangeRule)]);
    for (const statement of [...warningAllows, ...stateAllows]) {
      expect(statement).toMatchObject({ Principal: { Service: 'events.amazonaws.com' } });
    }
  });
});

describe('event source mappings', () => {
  test('the warning queue feeds the responder in batches of 1,000, gathered for 1 s, 5 at a time, with partial batch responses', () => {
    const { template, stack, responder } = defaults;
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: resolve(stack, responder.warningBuffer.queue.queueArn),
      FunctionName: resolve(stack, responder.responderFunction.functionName),
      BatchSize: 1000,
      MaximumBatchingWindowInSeconds: 1,
      ScalingConfig: { MaximumConcurrency: 5 },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  test('the state-change queue has its own mapping, at a concurrency of 2, so a scale-in cannot hold up warnings', () => {
    const { template, stack, responder } = defaults;
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: resolve(stack, responder.stateChangeBuffer.queue.queueArn),
      FunctionName: resolve(stack, responder.responderFunction.functionName),
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: 1,
      ScalingConfig: { MaximumConcurrency: 2 },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 2);
  });

  test('batch size, batching window and concurrency follow the props', () => {
    const { template, stack, responder } = tuned;
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: resolve(stack, responder.warningBuffer.queue.queueArn),
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: 0,
      ScalingConfig: { MaximumConcurrency: 20 },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  test('nothing may invoke the responder but its mappings: no resource-based permission at all', () => {
    const { template, stack, responder } = defaults;
    const fn = JSON.stringify(resolve(stack, responder.responderFunction.functionArn));
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission')).filter(
      (permission) => JSON.stringify(permission.Properties.FunctionName) === fn,
    );
    expect(permissions).toEqual([]);
  });
});

describe('buffer alarms', () => {
  test('on the age of the oldest warning (30 s) and of the oldest state change (10 min)', () => {
    const { template, stack, responder } = defaults;
    for (const [queue, threshold] of [
      [responder.warningBuffer.queue, 30],
      [responder.stateChangeBuffer.queue, 600],
    ] as const) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateAgeOfOldestMessage',
        Statistic: 'Maximum',
        Period: 60,
        Threshold: threshold,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        Dimensions: [{ Name: 'QueueName', Value: resolve(stack, queue.queueName) }],
      });
    }
  });

  test('on any message in either buffer DLQ', () => {
    const { template, stack, responder } = defaults;
    for (const dlq of [responder.warningBuffer.deadLetterQueue, responder.stateChangeBuffer.deadLetterQueue]) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Threshold: 1,
        Dimensions: [{ Name: 'QueueName', Value: resolve(stack, dlq.queueName) }],
      });
    }
  });
});

describe('buffer props validation', () => {
  const app = testApp();
  let stacks = 0;
  const build = (props: ConstructorParameters<typeof SpotResponder>[2]) => () =>
    new SpotResponder(new Stack(app, `BadBuffer${stacks++}`), 'SpotResponder', props);

  test.each([
    [{ batchSize: 0 }, /batchSize/],
    [{ batchSize: 10_001 }, /batchSize/],
    [{ batchSize: 2.5 }, /batchSize/],
    [{ maxConcurrency: 1 }, /maxConcurrency/],
    [{ maxConcurrency: 1_001 }, /maxConcurrency/],
    [{ maxBatchingWindow: Duration.seconds(2) }, /maxBatchingWindow must be 0 or 1 second/],
    [{ maxBatchingWindow: Duration.millis(500) }, /maxBatchingWindow must be 0 or 1 second/],
    [{ maxBatchingWindow: Duration.seconds(0) }, /when batchSize is above 10/],
  ])('%j is refused', (props, message) => {
    expect(build(props)).toThrow(SpotResponderConfigError);
    expect(build(props)).toThrow(message);
  });
});
