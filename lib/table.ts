// The records table: one item per event, claim and instance pointer, the target index, and a
// GSI for the history query (lambda/aws/table-schema.ts is the layout both sides share).
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { TABLE_SCHEMA } from '../lambda/aws/table-schema';
import { acknowledge, wildcardActionFinding } from './nag';

/**
 * The responder's table actions: claims and records (GetItem, PutItem, UpdateItem, and the
 * same two inside TransactWriteItems, which IAM authorizes per contained action), index and
 * pointer reads (BatchGetItem). No Query, Scan, DeleteItem or BatchWriteItem: history is read
 * by the CLI with the operator's own credentials. test/unit/lambda/table-actions.test.ts keeps
 * this list equal to what the code sends.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html
 */
export const RESPONDER_TABLE_ACTIONS = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'] as const;

/**
 * The index refresher's: the snapshot (BatchGetItem, BatchWriteItem), INDEX#META, the lease and
 * the checkpoint (GetItem, PutItem, DeleteItem), the timeline's replacement-healthy (UpdateItem),
 * and the replacements it names that no state change named (GetItem, then UpdateItem and PutItem
 * in one TransactWriteItems, which IAM authorizes by those actions).
 */
export const INDEX_REFRESHER_TABLE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
] as const;

export interface RecordsTableProps {
  /** @default - the AWS managed key for DynamoDB */
  readonly encryptionKey?: kms.IKey;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The table `Table` in `scope`: on-demand, point-in-time recovery on, TTL on the schema's
 * expiry attribute, and the history index.
 */
export function createRecordsTable(scope: Construct, props: RecordsTableProps): dynamodb.Table {
  // Table, not TableV2: a TableV2 with a customer managed key cannot be synthesized in an
  // environment-agnostic stack, and ours is one.
  const table = new dynamodb.Table(scope, 'Table', {
    partitionKey: { name: TABLE_SCHEMA.partitionKey, type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    timeToLiveAttribute: TABLE_SCHEMA.ttlAttribute,
    encryption: props.encryptionKey ? dynamodb.TableEncryption.CUSTOMER_MANAGED : dynamodb.TableEncryption.AWS_MANAGED,
    encryptionKey: props.encryptionKey,
    removalPolicy: props.removalPolicy,
  });
  table.addGlobalSecondaryIndex({
    indexName: TABLE_SCHEMA.historyIndex.name,
    partitionKey: { name: TABLE_SCHEMA.historyIndex.partitionKey, type: dynamodb.AttributeType.STRING },
    sortKey: { name: TABLE_SCHEMA.historyIndex.sortKey, type: dynamodb.AttributeType.STRING },
    projectionType: dynamodb.ProjectionType.ALL,
  });
  return table;
}

/**
 * Item reads and writes on the table and its one index, and use of its key if it has a
 * customer managed one. Written out instead of `table.grantReadWriteData`, which would add
 * "<table ARN>/index/*" and the stream actions of a table that has no stream.
 */
export function grantRecordsReadWrite(
  table: dynamodb.Table,
  role: iam.IRole,
  key: kms.IKey | undefined,
  actions: readonly string[],
): void {
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ReadWriteTable',
      actions: [...actions],
      // The table only: neither function queries the history index (the CLI does).
      resources: [table.tableArn],
    }),
  );
  if (!key) return;
  key.grantEncryptDecrypt(role);
  acknowledge(
    role,
    'kms:ReEncrypt* and kms:GenerateDataKey* are the action families CDK grants for using the ' +
      "table's customer managed key; the statement is limited to that one key.",
    wildcardActionFinding('kms:ReEncrypt*'),
    wildcardActionFinding('kms:GenerateDataKey*'),
  );
}
