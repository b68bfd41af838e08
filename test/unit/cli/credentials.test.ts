// Issue 9, case 7: the CLI sent real credentials to any --endpoint-url. A real listener on
// loopback records the access key id of each request's Authorization header (SigV4:
// `Credential=<key id>/<date>/<region>/<service>/aws4_request`) and whether a session token came.
import { once } from 'node:events';
import * as fs from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { listHistory } from '../../../cli/history';
import { credentialsFor, isAwsEndpoint, resolveRegion } from '../../../cli/aws-target';

const REAL_KEY = 'AKIAREALKEY000000001';
const PROFILE_KEY = 'AKIAPROFILEKEY000002';

interface Seen {
  accessKeyId: string | undefined;
  sessionToken: string | undefined;
}

let server: Server;
let endpoint: string;
const seen: Seen[] = [];
const savedEnv = { ...process.env };
let scratch: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const auth = req.headers.authorization ?? '';
    seen.push({
      accessKeyId: /Credential=([^/]+)\//.exec(auth)?.[1],
      sessionToken: req.headers['x-amz-security-token'] as string | undefined,
    });
    req.resume();
    // An empty DynamoDB Query answer: the CLI gets a valid reply and ends normally.
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
    res.end(JSON.stringify({ Items: [], Count: 0, ScannedCount: 0 }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'spot-responder-creds-'));
  fs.writeFileSync(
    path.join(scratch, 'credentials'),
    `[prod]\naws_access_key_id = ${PROFILE_KEY}\naws_secret_access_key = profilesecret\naws_session_token = PROFILETOKEN\n`,
  );
  fs.writeFileSync(path.join(scratch, 'config'), '[profile prod]\nregion = eu-west-1\n');
});

afterAll(async () => {
  server.close();
  fs.rmSync(scratch, { recursive: true, force: true });
});

beforeEach(() => {
  seen.length = 0;
  process.env = {
    ...savedEnv,
    AWS_ACCESS_KEY_ID: REAL_KEY,
    AWS_SECRET_ACCESS_KEY: 'realsecret',
    AWS_SESSION_TOKEN: 'REALTOKEN',
    AWS_SHARED_CREDENTIALS_FILE: path.join(scratch, 'credentials'),
    AWS_CONFIG_FILE: path.join(scratch, 'config'),
  };
  delete process.env.AWS_REGION;
  delete process.env.AWS_DEFAULT_REGION;
  delete process.env.AWS_PROFILE;
});

afterEach(() => {
  process.env = { ...savedEnv };
});

const history = (extra: { profile?: string; sendCredentialsToEndpoint?: boolean } = {}) =>
  listHistory({ endpointUrl: endpoint, region: 'us-east-1', table: 't', since: '1h', limit: 10, json: true, ...extra });

describe('issue 9.7: real credentials go only to AWS endpoints', () => {
  it('9.7 env credentials: a loopback --endpoint-url gets the emulator dummies, never the real key or token', async () => {
    // Act
    await history();

    // Assess
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((s) => s.accessKeyId === 'testing')).toBe(true);
    expect(seen.every((s) => s.sessionToken === undefined)).toBe(true);
  });

  it('9.7 --profile: a loopback --endpoint-url gets the emulator dummies, not the profile key', async () => {
    // Act
    await history({ profile: 'prod' });

    // Assess
    expect(seen.map((s) => s.accessKeyId)).toEqual(seen.map(() => 'testing'));
    expect(seen.some((s) => s.sessionToken !== undefined)).toBe(false);
  });

  it('9.7 opt-in: --send-credentials-to-endpoint sends the real credentials, as asked', async () => {
    // Act
    await history({ sendCredentialsToEndpoint: true });

    // Assess
    expect(seen[0]).toEqual({ accessKeyId: REAL_KEY, sessionToken: 'REALTOKEN' });
  });

  it('9.7 opt-in with --profile sends the profile credentials', async () => {
    // Act
    await history({ profile: 'prod', sendCredentialsToEndpoint: true });

    // Assess
    expect(seen[0]).toEqual({ accessKeyId: PROFILE_KEY, sessionToken: 'PROFILETOKEN' });
  });

  it('real credentials (the default chain or the profile) for AWS endpoints and for no endpoint', () => {
    expect(credentialsFor({})).toBeUndefined();
    expect(credentialsFor({ endpointUrl: 'https://dynamodb.eu-west-1.amazonaws.com' })).toBeUndefined();
    expect(typeof credentialsFor({ profile: 'prod' })).toBe('function');
    expect(credentialsFor({ endpointUrl: 'http://localhost:5000' })).toEqual({ accessKeyId: 'testing', secretAccessKey: 'testing' });
  });

  it.each([
    ['https://dynamodb.us-east-1.amazonaws.com', true],
    ['https://sqs.cn-north-1.amazonaws.com.cn', true],
    ['https://dynamodb.us-east-1.api.aws', true],
    ['https://vpce-0abc-1234.sts.us-east-1.vpce.amazonaws.com', true],
    ['http://dynamodb.us-east-1.amazonaws.com', false],
    ['https://amazonaws.com.evil.example', false],
    ['https://evilamazonaws.com', false],
    ['http://127.0.0.1:5000', false],
    ['not a url', false],
  ])('isAwsEndpoint(%s) is %s', (url, expected) => {
    expect(isAwsEndpoint(url)).toBe(expected);
  });
});

describe("issue 10.4: the profile's region is honoured", () => {
  it("--profile takes the profile's region from ~/.aws/config, --region still wins", async () => {
    await expect(resolveRegion({ profile: 'prod' })).resolves.toBe('eu-west-1');
    await expect(resolveRegion({ profile: 'prod', region: 'ap-south-1' })).resolves.toBe('ap-south-1');
  });

  it('AWS_PROFILE works as --profile does; AWS_REGION beats the profile, as in the SDK', async () => {
    process.env.AWS_PROFILE = 'prod';
    await expect(resolveRegion({})).resolves.toBe('eu-west-1');
    process.env.AWS_REGION = 'us-west-2';
    await expect(resolveRegion({})).resolves.toBe('us-west-2');
  });

  it('an emulator without a region or profile uses the emulator region', async () => {
    await expect(resolveRegion({ endpointUrl: 'http://127.0.0.1:5000' })).resolves.toBe('us-east-1');
  });
});
