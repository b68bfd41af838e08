// Which stacks the CDK app holds, and where: the part of bin/app.ts worth testing.
import type { App } from 'aws-cdk-lib';
import type { SpotResponderAppConfig } from './context';
import { SpotResponderStack } from './spot-responder-stack';

/**
 * Add the app's SpotResponderStacks to `app`:
 * - without `regions`: one environment-agnostic stack `<stackId>`, deployed to the account and
 *   region of the credentials `cdk deploy` runs with;
 * - with `regions`: one stack `<stackId>-<region>` per region, in the account of the credentials
 *   (CDK_DEFAULT_ACCOUNT). EC2 sends its events to the instance's own region only, so each
 *   region needs its own responder; each stack accepts events of its own region.
 * Each stack's CloudFormation name is its id. Returns the stacks in the order of `regions`.
 */
export function addSpotResponderStacks(app: App, config: SpotResponderAppConfig): SpotResponderStack[] {
  if (!config.regions) return [new SpotResponderStack(app, config.stackId, config.stackProps)];
  return config.regions.map(
    (region) =>
      new SpotResponderStack(app, `${config.stackId}-${region}`, {
        ...config.stackProps,
        env: { account: process.env.CDK_DEFAULT_ACCOUNT, region },
      }),
  );
}
