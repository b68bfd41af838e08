// The optional notification topic: one message per handled interruption and per failure, which
// the responder publishes itself (lambda/response/notifications.ts says why not a destination
// or a Pipe). Wiring only: the topic, the grant, the variable that tells the responder.
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { SIGNALS_ENV } from '../lambda/contract';
import { acknowledge, wildcardActionFinding } from './nag';

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
  const target = topic === true ? awsManagedKeyTopic(scope) : topic;
  const role = responder.role as iam.IRole;
  target.grantPublish(role);
  if (topic !== true && topic.masterKey) {
    acknowledge(
      role,
      "Topic.grantPublish grants kms:GenerateDataKey* on the topic's own key only (GenerateDataKey and " +
        'GenerateDataKeyWithoutPlaintext, what SNS needs to encrypt a published message); the resource is that one key.',
      wildcardActionFinding('kms:GenerateDataKey*'),
    );
  }
  responder.addEnvironment(SIGNALS_ENV.notificationTopicArn, target.topicArn);
  return target;
}

/**
 * Set on the CloudFormation resource, not as `masterKey`: an imported alias would make
 * grantPublish add kms rights on every key of the account (key/*, narrowed by an alias
 * condition), and the AWS managed key needs no IAM grant at all: its key policy already lets
 * the account's principals use it through SNS.
 */
function awsManagedKeyTopic(scope: Construct): sns.Topic {
  const topic = new sns.Topic(scope, 'NotificationTopic', { displayName: 'spot-responder notifications', enforceSSL: true });
  (topic.node.defaultChild as sns.CfnTopic).kmsMasterKeyId = 'alias/aws/sns';
  return topic;
}
