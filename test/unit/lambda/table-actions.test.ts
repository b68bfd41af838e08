// The responder's role gets exactly the DynamoDB actions its code sends (lib/table.ts
// RESPONDER_TABLE_ACTIONS): every path of a response is run over mocked clients and each
// command is mapped to the IAM action that authorizes it. A new kind of write in the code, or
// a grant no path needs, fails here. TransactWriteItems is authorized per contained action.
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html
import { DeregisterTargetsCommand, ElasticLoadBalancingV2ServiceException } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { RESPONDER_TABLE_ACTIONS } from '../../../lib/table';
import { respond, respondBatch } from '../../../lambda/responder';
import { loadEvent } from '../../support/fixtures';
import { emulateClaimTable, serviceError, terminateWarning, worldFor, type MockAws } from '../../support/mock-aws';

/** The IAM actions behind every DynamoDB command the mocked document client received. */
function actionsSent(aws: MockAws): Set<string> {
  const actions = new Set<string>();
  for (const call of aws.dynamo.calls()) {
    const command = call.args[0] as { constructor: { name: string }; input: unknown };
    const name = command.constructor.name.replace(/Command$/, '');
    if (name === 'TransactWrite') {
      for (const item of (command.input as TransactWriteCommandInput).TransactItems ?? []) {
        if (item.Put) actions.add('dynamodb:PutItem');
        if (item.Update) actions.add('dynamodb:UpdateItem');
        if (item.Delete) actions.add('dynamodb:DeleteItem');
        if (item.ConditionCheck) actions.add('dynamodb:ConditionCheckItem');
      }
    } else {
      actions.add(`dynamodb:${{ Get: 'GetItem', Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem', BatchGet: 'BatchGetItem', BatchWrite: 'BatchWriteItem' }[name] ?? name}`);
    }
  }
  return actions;
}

describe("the responder's table actions", () => {
  const used = new Set<string>();
  const run = async (scenario: (aws: MockAws) => Promise<unknown>) => {
    const event = terminateWarning();
    const aws = worldFor(event);
    emulateClaimTable(aws);
    await scenario(aws).catch(() => undefined);
    const sent = actionsSent(aws);
    sent.forEach((a) => used.add(a));
    return sent;
  };

  it.each([
    ['a handled warning, then its duplicate', async (aws: MockAws) => {
      await respond(terminateWarning(), aws.deps());
      await respond(terminateWarning(), aws.deps());
    }],
    ['a batch', async (aws: MockAws) => respondBatch([terminateWarning(), loadEvent('spot-interruption-warning/stop.json')], aws.deps())],
    ['a failed response (a deregistration AWS refuses), recorded as failed', async (aws: MockAws) => {
      aws.elbv2.on(DeregisterTargetsCommand).rejects(serviceError(ElasticLoadBalancingV2ServiceException, 'AccessDenied', 403, 'denied'));
      await respond(terminateWarning(), aws.deps());
    }],
    ['state changes extending the timeline', async (aws: MockAws) => {
      await respond(terminateWarning(), aws.deps());
      await respond(loadEvent('instance-state-change/shutting-down.json'), aws.deps());
      await respond(loadEvent('instance-state-change/running.json'), aws.deps());
    }],
  ])('%s sends only granted actions', async (_label, scenario) => {
    const sent = await run(scenario);
    expect(sent.size).toBeGreaterThan(0);
    for (const action of sent) expect(RESPONDER_TABLE_ACTIONS).toContain(action);
  });

  it('issue 9.9: needs every granted action on some path (the grant is no wider than the code)', () => {
    expect([...used].sort()).toEqual([...RESPONDER_TABLE_ACTIONS].sort());
  });
});
