// The notifier on SNS: one Publish per notification, with per-protocol bodies (MessageStructure
// json: the JSON for HTTPS/SQS/Lambda/chat subscribers, readable text for e-mail) and message
// attributes that subscription filter policies can match (e.g. only failures to the pager).
// Amazon SNS Publish: https://docs.aws.amazon.com/sns/latest/api/API_Publish.html
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { commonConfig } from './clients';
import type { CallOptions } from '../core/ports';
import type { NotifierPort, RenderedNotification } from '../response/notifications';

export class SnsNotifier implements NotifierPort {
  /**
   * A notifier with its own client, created once per container, with the retry and timeout
   * settings of every other client (aws/clients.ts), in the topic's region (from its ARN).
   */
  static forTopic(topicArn: string): SnsNotifier {
    const region = topicArn.split(':')[3];
    return new SnsNotifier(new SNSClient(commonConfig(region ? { region } : {})), topicArn);
  }

  /** `client` comes with the retry settings of createAwsClients; `topicArn` is the construct's topic. */
  constructor(
    private readonly client: SNSClient,
    private readonly topicArn: string,
  ) {}

  /** Publishes `message`; SDK errors (AuthorizationError, KMS access, throttling after retries) propagate. */
  async notify(message: RenderedNotification, opts: CallOptions = {}): Promise<void> {
    const json = JSON.stringify(message.notification);
    const n = message.notification;
    const attributes: Record<string, string> = { outcome: n.outcome };
    if (n.instanceId) attributes.instanceId = n.instanceId;
    if (n.autoScalingGroup) attributes.autoScalingGroup = n.autoScalingGroup;
    await this.client.send(
      new PublishCommand({
        TopicArn: this.topicArn,
        Subject: message.subject,
        MessageStructure: 'json',
        Message: JSON.stringify({ default: json, email: message.text, 'email-json': json }),
        MessageAttributes: Object.fromEntries(
          Object.entries(attributes).map(([k, v]) => [k, { DataType: 'String', StringValue: v }]),
        ),
      }),
      { abortSignal: opts.abortSignal },
    );
  }
}
