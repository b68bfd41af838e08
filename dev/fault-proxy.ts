// A fault-injecting HTTP proxy in front of the emulator (moto): the faults AWS really produces,
// on the calls a test chooses, so the responder can be driven through each of them; and, for the
// benchmarks, latency per call (moto answers in about a millisecond, AWS's control plane in tens). Written by
// hand: no library injects AWS-shaped faults per API operation (toxiproxy works at the TCP
// level and cannot answer with AWS's error bodies or honour DynamoDB's idempotency token).
//
// Faults, per request (decided by `plan`):
//   throttle     400 with the service's own throttling body (JSON for DynamoDB and ECS, the
//                query protocol's XML for Auto Scaling and ELBv2, EC2's XML for EC2); nothing forwarded
//   5xx-before   503 ServiceUnavailable; nothing forwarded (the request never reached the service)
//   5xx-after    forwarded, the service processed it, then 500 InternalFailure to the client
//   reset        the connection is destroyed before anything is forwarded
//   reset-after  forwarded and processed, then the connection is destroyed (the answer is lost)
//   hang         nothing is forwarded and nothing answered: the client's own timeout must fire
//   down         as reset, for every call of the service (use `plan` to say which)
// DynamoDB's idempotency token: a TransactWriteItems with a ClientRequestToken seen in the last
// 10 minutes is answered with the first answer the service gave, without forwarding, as AWS
// does (moto ignores the token). https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault = 'throttle' | '5xx-before' | '5xx-after' | 'reset' | 'reset-after' | 'hang' | 'down';

/** What the proxy knows of a request when it decides: the service and the API operation. */
export interface CallInfo {
  /** dynamodb, autoscaling, elasticloadbalancing, ec2, ecs, sts, or 'unknown'. */
  service: string;
  /** The API operation, e.g. TransactWriteItems, DeregisterTargets; '' when unknown. */
  operation: string;
}

/** Decides one request's fault; undefined forwards it untouched. */
export type FaultPlan = (call: CallInfo) => Fault | undefined;

/** One request as the proxy handled it. */
export interface ProxiedCall extends CallInfo {
  fault: Fault | undefined;
  /** Answered from the idempotency-token cache, not forwarded. */
  replayed: boolean;
  /** The HTTP status the upstream answered, when the request was forwarded and answered. */
  upstreamStatus?: number;
}

export interface FaultProxy {
  /** http://127.0.0.1:<port>: give it to the SDK clients as their endpoint. */
  endpoint: string;
  /** Every request so far, in arrival order. */
  calls: ProxiedCall[];
  /** Swap the plan (e.g. between the first delivery and the retry). */
  setPlan(plan: FaultPlan): void;
  close(): Promise<void>;
}

/** How long a ClientRequestToken is remembered (ms), as DynamoDB does. */
export const IDEMPOTENCY_WINDOW_MS = 10 * 60_000;

/** Random faults at the given rates (0..1) on every call: the reliability benchmark's mix. */
export function randomFaults(rates: { throttle: number; serverError: number; reset: number }, random: () => number = Math.random): FaultPlan {
  return () => {
    const draw = random();
    if (draw < rates.throttle) return 'throttle';
    if (draw < rates.throttle + rates.serverError) return random() < 0.5 ? '5xx-before' : '5xx-after';
    if (draw < rates.throttle + rates.serverError + rates.reset) return random() < 0.5 ? 'reset' : 'reset-after';
    return undefined;
  };
}

/** Milliseconds to hold one request before it is forwarded or faulted; 0 or undefined: none. */
export type LatencyPlan = (call: CallInfo) => number | undefined;

/**
 * A jittered control-plane latency: `medianMs` ± `jitterMs` (uniform) on every call except
 * DynamoDB's (which gets `dynamoMs`), as the single-warning measurement set it up.
 */
export function controlPlaneLatency(medianMs: number, jitterMs: number, dynamoMs = 0, random: () => number = Math.random): LatencyPlan {
  return (call) => (call.service === 'dynamodb' ? dynamoMs : medianMs + (random() * 2 - 1) * jitterMs);
}

export interface FaultProxyOptions {
  /** Added before each request is answered or forwarded (ms). */
  latency?: LatencyPlan;
}

/**
 * Starts the proxy on a free loopback port in front of `upstream` (http://host:port).
 * `initial` decides each request's fault (none by default); `options.latency` delays each one.
 */
export async function startFaultProxy(upstream: string, initial: FaultPlan = () => undefined, options: FaultProxyOptions = {}): Promise<FaultProxy> {
  const target = new URL(upstream);
  let plan = initial;
  const calls: ProxiedCall[] = [];
  const tokens = new Map<string, { at: number; status: number; headers: http.IncomingHttpHeaders; body: Buffer }>();
  const hung = new Set<http.ServerResponse>();

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const call = identify(req, body);
      const delay = options.latency?.(call) ?? 0;
      if (delay > 0) setTimeout(() => handle(req, res, body, call), delay);
      else handle(req, res, body, call);
    });
  });
  const handle = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, call: CallInfo): void => {
    const fault = plan(call);
    const token = call.service === 'dynamodb' && call.operation === 'TransactWriteItems' ? requestToken(body) : undefined;
    const remembered = token ? tokens.get(token) : undefined;
    const replay = remembered && Date.now() - remembered.at < IDEMPOTENCY_WINDOW_MS ? remembered : undefined;
    const proxied: ProxiedCall = { ...call, fault, replayed: replay !== undefined && (fault === undefined || isAfter(fault)) };
    calls.push(proxied);
    switch (fault) {
      case 'throttle':
        return answer(res, 400, throttlingBody(call));
      case '5xx-before':
        return answer(res, 503, serverErrorBody(call, 'ServiceUnavailable', 'Service Unavailable'));
      case 'reset':
      case 'down':
        req.socket.destroy();
        return;
      case 'hang':
        hung.add(res);
        return;
      default:
        break;
    }
    if (replay) {
      res.writeHead(replay.status, replay.headers);
      res.end(replay.body);
      return;
    }
    forward(target, req, body, (status, headers, upstreamBody) => {
      proxied.upstreamStatus = status;
      if (token && status < 500) tokens.set(token, { at: Date.now(), status, headers, body: upstreamBody });
      if (fault === '5xx-after') return answer(res, 500, serverErrorBody(call, 'InternalFailure', 'We encountered an internal error. Please try again.'));
      if (fault === 'reset-after') return req.socket.destroy();
      res.writeHead(status, headers);
      res.end(upstreamBody);
    }, () => req.socket.destroy());
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    setPlan: (next) => {
      plan = next;
    },
    close: async () => {
      for (const res of hung) res.socket?.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function isAfter(fault: Fault): boolean {
  return fault === '5xx-after' || fault === 'reset-after';
}

/** The service and operation, from the JSON protocol's X-Amz-Target or the query protocol's Action. */
function identify(req: http.IncomingMessage, body: Buffer): CallInfo {
  const target = req.headers['x-amz-target'];
  if (typeof target === 'string') {
    const [prefix = '', operation = ''] = target.split('.');
    const service = prefix.startsWith('DynamoDB') ? 'dynamodb' : prefix.startsWith('AmazonEC2ContainerService') ? 'ecs' : prefix.toLowerCase();
    return { service, operation };
  }
  const form = new URLSearchParams(body.toString('utf8'));
  const operation = form.get('Action') ?? '';
  const version = form.get('Version') ?? '';
  const auth = String(req.headers.authorization ?? '');
  const scope = /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\//.exec(auth)?.[1];
  const service = scope ?? (version === '2011-01-01' ? 'autoscaling' : version === '2015-12-01' ? 'elasticloadbalancing' : 'unknown');
  return { service, operation };
}

function requestToken(body: Buffer): string | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { ClientRequestToken?: unknown };
    return typeof parsed.ClientRequestToken === 'string' ? parsed.ClientRequestToken : undefined;
  } catch {
    return undefined;
  }
}

interface ErrorBody {
  contentType: string;
  body: string;
}

function jsonError(type: string, message: string): ErrorBody {
  return { contentType: 'application/x-amz-json-1.0', body: JSON.stringify({ __type: type, message }) };
}

function queryError(code: string, message: string, sender: boolean): ErrorBody {
  return {
    contentType: 'text/xml',
    body: `<ErrorResponse><Error><Type>${sender ? 'Sender' : 'Receiver'}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  };
}

function ec2Error(code: string, message: string): ErrorBody {
  return {
    contentType: 'text/xml',
    body: `<Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>${randomUUID()}</RequestID></Response>`,
  };
}

/** The service's own throttling answer, as the SDK's error classification expects it. */
function throttlingBody(call: CallInfo): ErrorBody {
  switch (call.service) {
    case 'dynamodb':
      return jsonError('com.amazonaws.dynamodb.v20120810#ThrottlingException', 'Rate exceeded');
    case 'ecs':
      return jsonError('ThrottlingException', 'Rate exceeded');
    case 'ec2':
      return ec2Error('RequestLimitExceeded', 'Request limit exceeded.');
    default:
      return queryError('Throttling', 'Rate exceeded', true);
  }
}

function serverErrorBody(call: CallInfo, code: string, message: string): ErrorBody {
  switch (call.service) {
    case 'dynamodb':
    case 'ecs':
      return jsonError(code === 'ServiceUnavailable' ? 'com.amazonaws.dynamodb.v20120810#ServiceUnavailable' : `com.amazonaws.dynamodb.v20120810#InternalServerError`, message);
    case 'ec2':
      return ec2Error(code === 'ServiceUnavailable' ? 'Unavailable' : 'InternalError', message);
    default:
      return queryError(code, message, false);
  }
}

function answer(res: http.ServerResponse, status: number, error: ErrorBody): void {
  res.writeHead(status, { 'content-type': error.contentType, 'x-amzn-requestid': randomUUID() });
  res.end(error.body);
}

function forward(
  target: URL,
  req: http.IncomingMessage,
  body: Buffer,
  done: (status: number, headers: http.IncomingHttpHeaders, body: Buffer) => void,
  failed: () => void,
): void {
  const upstream = http.request(
    { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
    (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => done(res.statusCode ?? 502, res.headers, Buffer.concat(chunks)));
    },
  );
  upstream.on('error', failed);
  upstream.end(body);
}
