// Which AWS the CLI talks to: a local emulator (--endpoint-url) or a real account, in which
// region, and with which credentials. Real credentials are sent only to AWS's own endpoints:
// an emulator (or anything listening on a URL the user typed) gets the emulator's dummies,
// unless the user opts in with --send-credentials-to-endpoint.
import { STSClient } from '@aws-sdk/client-sts';
import { fromIni } from '@aws-sdk/credential-providers';
import { createAwsClients, type AwsClientOptions, type AwsClients } from '../lambda/aws/clients';
import { EMULATOR_CREDENTIALS, EMULATOR_REGION } from './emulator-target';

export interface AwsTarget {
  /** A local emulator (moto server), or any endpoint the user names. */
  endpointUrl?: string;
  /** Resolved by resolveRegion before any client is built; see regionOf for the fallback. */
  region?: string;
  /** A profile of ~/.aws/config and ~/.aws/credentials: its region and its credentials. */
  profile?: string;
  /** Send the real credentials (environment, profile, SSO ...) to a non-AWS `endpointUrl` too. */
  sendCredentialsToEndpoint?: boolean;
}

export const DEFAULT_REGION = 'us-east-1';

/**
 * DNS suffixes of AWS's own service endpoints, per partition (aws, aws-cn, the dual-stack
 * `api.aws`, the ISO partitions and the European sovereign cloud), from the SDK's partitions
 * table (@aws-sdk/util-endpoints, partitions.json: `dnsSuffix` / `dualStackDnsSuffix`).
 */
const AWS_DNS_SUFFIXES = [
  '.amazonaws.com',
  '.amazonaws.com.cn',
  '.api.aws',
  '.api.amazonwebservices.com.cn',
  '.c2s.ic.gov',
  '.sc2s.sgov.gov',
  '.cloud.adc-e.uk',
  '.csp.hci.ic.gov',
  '.amazonaws.eu',
] as const;

/**
 * An https URL whose host is an AWS service endpoint (a VPC endpoint's DNS name or a FIPS
 * endpoint included). Anything else (plain http, loopback, a LAN proxy, a look-alike such as
 * `amazonaws.com.evil.example`) is not AWS. A URL that does not parse is not AWS.
 */
export function isAwsEndpoint(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  const host = parsed.hostname.toLowerCase().replace(/\.$/, '');
  return parsed.protocol === 'https:' && AWS_DNS_SUFFIXES.some((suffix) => host.endsWith(suffix));
}

/** The endpoint is an emulator (or another non-AWS URL): it gets dummy credentials unless told otherwise. */
export function isEmulator(target: AwsTarget): boolean {
  return target.endpointUrl !== undefined && !isAwsEndpoint(target.endpointUrl);
}

type Credentials = NonNullable<AwsClientOptions['credentials']>;

/**
 * What the clients sign with: the emulator's dummies for a non-AWS endpoint (whatever the
 * environment or profile holds), the profile's credentials with --profile, else the SDK's
 * default chain (undefined).
 */
export function credentialsFor(target: AwsTarget): Credentials | undefined {
  if (isEmulator(target) && !target.sendCredentialsToEndpoint) return { ...EMULATOR_CREDENTIALS };
  if (target.profile) return fromIni({ profile: target.profile });
  return undefined;
}

/** The region once resolved (resolveRegion); before that, the environment's or us-east-1. */
export function regionOf(target: AwsTarget): string {
  return target.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? DEFAULT_REGION;
}

/**
 * The region as the SDK resolves it: --region, else AWS_REGION, else the profile's `region`
 * in ~/.aws/config (AWS_PROFILE or --profile), else us-east-1 (the CLI's historical default).
 * An emulator without --region or a profile uses the emulator's region. Resolved once, before
 * any client is built, so every client, the accept policy and the messages agree.
 */
export async function resolveRegion(target: AwsTarget): Promise<string> {
  if (target.region) return target.region;
  if (isEmulator(target) && !target.profile && !process.env.AWS_REGION && !process.env.AWS_DEFAULT_REGION) {
    return EMULATOR_REGION;
  }
  // The SDK's own chain (env, then the profile's config), through a client that sends nothing.
  const probe = new STSClient(target.profile ? { profile: target.profile } : {});
  try {
    return await probe.config.region();
  } catch {
    return DEFAULT_REGION;
  } finally {
    probe.destroy();
  }
}

/** The target with its region resolved. */
export async function resolveTarget<T extends AwsTarget>(target: T): Promise<T & { region: string }> {
  return { ...target, region: await resolveRegion(target) };
}

/** The client options every client of this target shares: region, endpoint, credentials. */
export function clientOptionsFor(target: AwsTarget): AwsClientOptions {
  const credentials = credentialsFor(target);
  return {
    region: regionOf(target),
    ...(target.endpointUrl ? { endpoint: target.endpointUrl } : {}),
    ...(credentials ? { credentials } : {}),
  };
}

export function clientsFor(target: AwsTarget): AwsClients {
  return createAwsClients(clientOptionsFor(target));
}
