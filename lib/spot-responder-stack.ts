import { CfnOutput, Stack, StackProps } from 'aws-cdk-lib';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { SpotResponder, SpotResponderProps } from './spot-responder';
import { checkEmail } from './validation';

export interface SpotResponderStackProps extends StackProps {
  /**
   * Configuration of the responder; see SpotResponderProps for each default.
   * @default - all defaults
   */
  readonly responder?: Omit<SpotResponderProps, 'alarmTopic'>;

  /**
   * Email address to notify when an alarm goes off: the stack creates an SNS topic with
   * this address subscribed (the owner must confirm the subscription).
   * @default - no topic; the alarms have no actions
   */
  readonly alarmEmail?: string;
}

/** One deployable spot-responder: the SpotResponder construct and, optionally, its alarm topic. */
export class SpotResponderStack extends Stack {
  public readonly responder: SpotResponder;
  /** Present when `alarmEmail` is set. */
  public readonly alarmTopic?: sns.Topic;

  constructor(scope: Construct, id: string, props: SpotResponderStackProps = {}) {
    super(scope, id, {
      description: 'spot-responder: drains, replaces and records EC2 Spot instances through their interruption lifecycle',
      ...props,
    });

    if (props.alarmEmail !== undefined) {
      checkEmail('SpotResponderStackProps.alarmEmail', props.alarmEmail);
      this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
        displayName: 'spot-responder alarms',
        enforceSSL: true,
      });
      this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    }

    this.responder = new SpotResponder(this, 'SpotResponder', {
      ...props.responder,
      alarmTopic: this.alarmTopic,
    });

    // What the CLI and an operator need after `cdk deploy`: `--table` for history and dry runs,
    // the queue to inspect when the DLQ alarm fires, the function whose logs tell the story.
    new CfnOutput(this, 'TableName', {
      value: this.responder.table.tableName,
      description: 'records table: spot-responder history / replay --dry-run --table <this>',
    });
    new CfnOutput(this, 'DeadLetterQueueUrl', {
      value: this.responder.deadLetterQueue.queueUrl,
      description: 'events EventBridge could not put on the queues (rule dead-letter queue)',
    });
    // The two queues and their dead-letter queues: `dlq list` reads every *DeadLetterQueueUrl
    // output, `dlq redrive` sends each event back to the queue its rule feeds.
    new CfnOutput(this, 'WarningQueueUrl', {
      value: this.responder.warningBuffer.queue.queueUrl,
      description: 'interruption warnings and rebalance recommendations, batched to the responder',
    });
    new CfnOutput(this, 'WarningDeadLetterQueueUrl', {
      value: this.responder.warningBuffer.deadLetterQueue.queueUrl,
      description: 'warnings and recommendations whose response failed on every receive',
    });
    new CfnOutput(this, 'StateChangeQueueUrl', {
      value: this.responder.stateChangeBuffer.queue.queueUrl,
      description: 'instance state changes, batched to the responder',
    });
    new CfnOutput(this, 'StateChangeDeadLetterQueueUrl', {
      value: this.responder.stateChangeBuffer.deadLetterQueue.queueUrl,
      description: 'state changes whose recording failed on every receive',
    });
    new CfnOutput(this, 'ResponseMode', {
      value: this.responder.mode,
      description: "observe: records what it would do and changes nothing; act: acts (context spotResponder:mode)",
    });
    new CfnOutput(this, 'ResponderFunctionName', {
      value: this.responder.responderFunction.functionName,
      description: 'the responder Lambda (structured JSON logs)',
    });
    if (this.responder.drill) {
      new CfnOutput(this, 'DrillExperimentTemplateId', {
        value: this.responder.drill.experimentTemplateId,
        description: 'FIS experiment template of the drill: spot-responder drill --stack-name <this stack>',
      });
    }
  }
}
