// Which AWS the CLI talks to: a local emulator (--endpoint-url) or a real account.
import { fromIni } from '@aws-sdk/credential-providers';
import { createAwsClients, type AwsClientOptions, type AwsClients } from '../lambda/aws/clients';
import { EMULATOR_CREDENTIALS } from './emulator-target';

export interface AwsTarget {
  endpointUrl?: string;
  region?: string;
  profile?: string;
}

export const DEFAULT_REGION = 'us-east-1';

export function regionOf(target: AwsTarget): string {
  return target.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? DEFAULT_REGION;
}

export function clientsFor(target: AwsTarget): AwsClients {
  const options: AwsClientOptions = { region: regionOf(target) };
  if (target.endpointUrl) {
    options.endpoint = target.endpointUrl;
    // Do not make users configure credentials an emulator ignores.
    if (!process.env.AWS_ACCESS_KEY_ID && !target.profile) options.credentials = { ...EMULATOR_CREDENTIALS };
  }
  if (target.profile) options.credentials = fromIni({ profile: target.profile });
  return createAwsClients(options);
}
