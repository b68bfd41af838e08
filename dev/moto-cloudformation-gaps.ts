// The resource types of our template that moto's CloudFormation (5.2.5, the pin of
// requirements-emulator.txt) accepts but does not create: the stack reaches CREATE_COMPLETE
// without them, and DescribeStackResources does not list them. Measured by `npm run
// deploy:check`, which fails when the types it finds missing differ from this list in either
// direction: a new skip would be a false green, a type moto now creates would leave a stale
// excuse behind. Each type stays covered by the stack tests named here, which assert its
// properties on the synthesized template; only a real account shows it deployed.

export interface MotoGap {
  /** The CloudFormation resource type moto skips. */
  readonly type: string;
  /** What the skipped resource does for us, i.e. what the emulator deploy cannot show. */
  readonly role: string;
  /** Stack test files (under test/stack/) that assert this type's properties. */
  readonly coveredBy: readonly string[];
}

export const MOTO_SKIPPED_RESOURCE_TYPES: readonly MotoGap[] = [
  {
    type: 'AWS::SQS::QueuePolicy',
    role: 'lets EventBridge send undeliverable events to the dead-letter queue (and denies plain HTTP)',
    coveredBy: ['spot-responder.test.ts'],
  },
  {
    type: 'AWS::Lambda::EventInvokeConfig',
    role: "the functions' async retry count, maximum event age and on-failure destination (the DLQ)",
    coveredBy: ['spot-responder.test.ts'],
  },
  {
    type: 'AWS::CloudWatch::Alarm',
    role: 'alarms on function errors and dead-letter queue depth',
    coveredBy: ['spot-responder.test.ts'],
  },
  {
    type: 'AWS::CDK::Metadata',
    role: "CDK's anonymous usage metadata; nothing of ours depends on it",
    coveredBy: [],
  },
];
