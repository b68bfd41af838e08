// The optional notification topic: one message per handled interruption and per failure, which
// the responder publishes itself (lambda/response/notifications.ts says why not a destination
// or a Pipe). Wiring only: the topic, the grant, the variable that tells the responder.
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { SIGNALS_ENV } from '../lambda/contract';

/**
 * The topic the responder notifies: `topic` itself, or with `true` a new topic `NotificationTopic`
 * in `scope`, encrypted with the AWS managed key alias/aws/sns (no key to pay for or to write a
 * policy for: the responder is the only publisher, and an IAM principal of the account may use
 * that key through SNS) and refusing anything but TLS. Grants the responder sns:Publish (and
 * the topic's key when it has one) and sets SIGNALS_ENV.notificationTopicArn on it.
 */
export function wireNotificationTopic(
  scope: Construct,
  topic: true | sns.ITopic,
  responder: lambda.Function,
): sns.ITopic {
  const target =
    topic === true
      ? new sns.Topic(scope, 'NotificationTopic', {
          displayName: 'spot-responder notifications',
          masterKey: kms.Alias.fromAliasName(scope, 'NotificationTopicKey', 'alias/aws/sns'),
          enforceSSL: true,
        })
      : topic;
  target.grantPublish(responder.role as iam.IRole);
  responder.addEnvironment(SIGNALS_ENV.notificationTopicArn, target.topicArn);
  return target;
}
