// The warning queue hands a failed message back only after its visibility timeout (180 s: Lambda
// requires at least the function's timeout), which is past the 120 s notice: the retry could
// never act, only be too late. So the handler shortens the visibility of the messages it reports
// failed, and their retry comes while the notice still runs. Lambda's own SQS documentation
// names ChangeMessageVisibility for a retry sooner than the timeout; the event source mapping's
// role already holds sqs:ChangeMessageVisibility (SqsEventSource grants consume).
// https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibilityBatch.html
// https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
import { ChangeMessageVisibilityBatchCommand, GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { CallOptions, QueueMessage, RedeliveryPort } from '../core/ports';
import { chunk } from './batching';

/** ChangeMessageVisibilityBatch takes at most 10 entries. */
const VISIBILITY_BATCH_LIMIT = 10;

/** The parts of an SQS queue ARN: arn:<partition>:sqs:<region>:<account>:<name>. Throws on anything else. */
export function parseQueueArn(arn: string): { region: string; account: string; name: string } {
  const parts = arn.split(':');
  if (parts.length !== 6 || parts[0] !== 'arn' || parts[2] !== 'sqs' || !parts[3] || !/^\d{12}$/.test(parts[4] ?? '') || !parts[5]) {
    throw new Error(`not an SQS queue ARN: ${arn}`);
  }
  return { region: parts[3], account: parts[4] as string, name: parts[5] };
}

/** RedeliveryPort on SQS. Queue URLs are looked up once per container (GetQueueUrl) and kept. */
export class SqsRedelivery implements RedeliveryPort {
  private readonly urls = new Map<string, Promise<string>>();

  constructor(private readonly client: SQSClient) {}

  async redeliverIn(messages: readonly QueueMessage[], seconds: number, opts: CallOptions = {}): Promise<string[]> {
    const byQueue = new Map<string, QueueMessage[]>();
    for (const m of messages) byQueue.set(m.queueArn, [...(byQueue.get(m.queueArn) ?? []), m]);
    const failed = await Promise.all(
      [...byQueue].map(async ([arn, queued]) => {
        const queueUrl = await this.queueUrl(arn, opts);
        const answers = await Promise.all(
          chunk(queued, VISIBILITY_BATCH_LIMIT).map(async (part) => {
            try {
              const out = await this.client.send(
                new ChangeMessageVisibilityBatchCommand({
                  QueueUrl: queueUrl,
                  // Entry ids must be unique within the call and at most 80 characters; message ids are both.
                  Entries: part.map((m) => ({ Id: m.messageId, ReceiptHandle: m.receiptHandle, VisibilityTimeout: seconds })),
                }),
                opts,
              );
              return (out.Failed ?? []).map((f) => f.Id ?? '');
            } catch {
              return part.map((m) => m.messageId);
            }
          }),
        );
        return answers.flat();
      }),
    );
    return failed.flat();
  }

  private queueUrl(arn: string, opts: CallOptions): Promise<string> {
    let url = this.urls.get(arn);
    if (!url) {
      const { account, name } = parseQueueArn(arn);
      url = (async () => {
        const out = await this.client.send(new GetQueueUrlCommand({ QueueName: name, QueueOwnerAWSAccountId: account }), opts);
        if (!out.QueueUrl) throw new Error(`GetQueueUrl named no URL for ${arn}`);
        return out.QueueUrl;
      })();
      // A failed lookup is not kept: the next failure tries again.
      url.catch(() => this.urls.delete(arn));
      this.urls.set(arn, url);
    }
    return url;
  }
}
