#!/usr/bin/env node
// The CDK app: a SpotResponderStack, or one per region of `spotResponder:regions`, configured
// from the spotResponder:* context keys (cdk.json, or -c key=value; see lib/context.ts and
// lib/spot-responder-app.ts). Without regions the stack is environment-agnostic: it takes its
// account and region from the credentials `cdk deploy` runs with.
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readSpotResponderContext } from '../lib/context';
import { addSpotResponderStacks } from '../lib/spot-responder-app';
import { SpotResponderConfigError } from '../lib/validation';

const app = new App();

try {
  const config = readSpotResponderContext(app.node);
  addSpotResponderStacks(app, config);
  if (config.nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
} catch (error) {
  if (!(error instanceof SpotResponderConfigError)) throw error;
  // A configuration mistake needs its message, not a stack trace through the CDK.
  console.error(`spot-responder: ${error.message}`);
  process.exit(1);
}
