// The records table: one item per event, claim and instance pointer, the target index, and a
// GSI for the history query (lambda/aws/table-schema.ts is the layout both sides share).
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { TABLE_SCHEMA } from '../lambda/aws/table-schema';
import { acknowledge, wildcardActionFinding } from './nag';

const TABLE_READ_WRITE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:Scan',
  'dynamodb:ConditionCheckItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:DescribeTable',
];

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
export function grantRecordsReadWrite(table: dynamodb.Table, role: iam.IRole, key: kms.IKey | undefined): void {
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ReadWriteTable',
      actions: TABLE_READ_WRITE_ACTIONS,
      resources: [table.tableArn, `${table.tableArn}/index/${TABLE_SCHEMA.historyIndex.name}`],
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
