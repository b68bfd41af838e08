// A local AWS for the demo and the integration tests: moto in server mode, installed into the
// repo's own .venv at the version pinned in requirements-emulator.txt, one process per
// emulator, on a free loopback port.
//
// Nothing outlives its parent. Each moto_server runs in its own process group (so a stop
// reaches anything it forks) and is ended three ways:
//   - stop(), the normal path: SIGTERM to the group, SIGKILL after a grace period;
//   - handlers on the parent's 'exit', SIGINT, SIGTERM and SIGHUP, which kill every emulator
//     still running (needed because a detached group does not get the terminal's Ctrl-C);
//   - a watchdog process that kills the group once the parent is gone, for the deaths no
//     handler sees (SIGKILL, OOM, a crashed jest).
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { EMULATOR_CREDENTIALS, EMULATOR_REGION } from '../cli/emulator-target';
import { packageRoot } from './package-root';

export class EmulatorError extends Error {
  override name = 'EmulatorError';
  constructor(
    message: string,
    /** The server's output, kept for a look when it failed to start. */
    readonly logFile?: string,
  ) {
    super(message);
  }
}

/** The repository root, found from this file so it holds under tsx, jest and a compiled build. */
export const REPO_ROOT = packageRoot(__dirname);
export const REQUIREMENTS_FILE = path.join(REPO_ROOT, 'requirements-emulator.txt');
export const VENV_DIR = path.join(REPO_ROOT, '.venv');
/** Logs, locks and leases; git-ignored. */
export const STATE_DIR = path.join(REPO_ROOT, '.moto');
/** Path to an existing moto_server to use instead of the repo's .venv. */
export const MOTO_SERVER_ENV = 'SPOT_RESPONDER_MOTO_SERVER';

export type Log = (line: string) => void;

const defaultLog: Log = (line) => process.stderr.write(`[emulator] ${line}\n`);

/**
 * SDK client configuration for the emulator at `endpoint`: explicit dummy credentials (so no
 * profile or instance role is ever consulted) and few retries (a local server either answers
 * or is broken).
 */
export function emulatorClientConfig(endpoint: string, region: string = EMULATOR_REGION) {
  return {
    region,
    endpoint,
    credentials: EMULATOR_CREDENTIALS,
    maxAttempts: 2,
  };
}

// ---------------------------------------------------------------------------------------------
// Installation

/** The moto version requirements-emulator.txt pins (`moto[server]==X`). */
export function pinnedMotoVersion(requirementsFile: string = REQUIREMENTS_FILE): string {
  const text = fs.readFileSync(requirementsFile, 'utf8');
  const match = /^\s*moto\[server\]==([^\s;#]+)/m.exec(text);
  if (!match?.[1]) {
    throw new EmulatorError(`${requirementsFile} must pin moto exactly, as "moto[server]==<version>"`);
  }
  return match[1];
}

const venvBin = (name: string) =>
  process.platform === 'win32' ? path.join(VENV_DIR, 'Scripts', `${name}.exe`) : path.join(VENV_DIR, 'bin', name);

export interface EnsureMotoOptions {
  log?: Log;
}

/**
 * The path of a moto_server at the pinned version: $SPOT_RESPONDER_MOTO_SERVER when set, else
 * the repo's .venv, created and installed into when missing or at another version. Concurrent
 * callers (two test runs in one tree) take turns through a lock under .moto/.
 */
export async function ensureMoto(opts: EnsureMotoOptions = {}): Promise<string> {
  const log = opts.log ?? defaultLog;
  const override = process.env[MOTO_SERVER_ENV]?.trim();
  if (override) {
    try {
      fs.accessSync(override, fs.constants.X_OK);
    } catch {
      throw new EmulatorError(`${MOTO_SERVER_ENV}=${override} is not an executable file`);
    }
    return override;
  }

  const pinned = pinnedMotoVersion();
  const motoServer = venvBin('moto_server');
  if ((await installedMotoVersion()) === pinned) return motoServer;

  return withLock(path.join(STATE_DIR, 'venv.lock'), log, async () => {
    // Another process may have installed it while we waited for the lock.
    const installed = await installedMotoVersion();
    if (installed === pinned) return motoServer;

    const started = Date.now();
    if (!fs.existsSync(venvBin('python'))) {
      log(`creating ${path.relative(process.cwd(), VENV_DIR) || VENV_DIR} (python3 -m venv .venv)`);
      await run('python3', ['-m', 'venv', VENV_DIR], REPO_ROOT, 'is Python 3 installed and on PATH?');
    }
    log(
      `installing moto[server]==${pinned} into .venv` +
        (installed ? ` (found ${installed})` : '') +
        '; this takes a minute the first time',
    );
    await run(
      venvBin('python'),
      ['-m', 'pip', 'install', '--disable-pip-version-check', '--quiet', '-r', REQUIREMENTS_FILE],
      REPO_ROOT,
      'check network access to PyPI, or point ' + MOTO_SERVER_ENV + ' at an existing moto_server',
    );
    const now = await installedMotoVersion();
    if (now !== pinned) {
      throw new EmulatorError(`after installing, .venv has moto ${now ?? '(none)'}, expected ${pinned}`);
    }
    log(`moto ${pinned} ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return motoServer;
  });
}

/** moto's version in .venv, or null when .venv, moto or its server extra is missing. */
async function installedMotoVersion(): Promise<string | null> {
  if (!fs.existsSync(venvBin('moto_server')) || !fs.existsSync(venvBin('python'))) return null;
  // Importing moto.server proves the [server] extra (flask) is there too.
  const script = "import importlib.metadata as m, moto.server; print(m.version('moto'))";
  try {
    const out = await run(venvBin('python'), ['-c', script], REPO_ROOT, '');
    return out.trim().split('\n').pop() ?? null;
  } catch {
    return null;
  }
}

/** Runs a command to completion; rejects naming the command, with the tail of its output. */
function run(command: string, args: string[], cwd: string, hint: string): Promise<string> {
  const shown = [command, ...args].join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-64_000);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', (err) => {
      reject(new EmulatorError(`could not run \`${shown}\`: ${err.message}${hint ? ` (${hint})` : ''}`));
    });
    child.on('close', (code, signal) => {
      if (code === 0) return resolve(output);
      const status = signal ? `killed by ${signal}` : `exit ${code}`;
      reject(
        new EmulatorError(
          `\`${shown}\` failed (${status})${hint ? `; ${hint}` : ''}\n${tail(output, 30)}`,
        ),
      );
    });
  });
}

/** The last lines of some output, each cut to a readable length. */
function tail(text: string, lines: number): string {
  return text
    .trimEnd()
    .split('\n')
    .slice(-lines)
    .map((line) => (line.length > 300 ? `${line.slice(0, 300)} ...` : line))
    .join('\n');
}

// ---------------------------------------------------------------------------------------------
// Cross-process locks: a directory made atomically, holding its owner's pid. A lock whose
// owner is dead is taken over.

/** Running: not gone, and not a zombie waiting for its parent (or init) to reap it. */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return process.platform !== 'linux';
  }
}

/** Tries once; true when this process now holds the lock at `dir`. */
export function tryLock(dir: string): boolean {
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  try {
    fs.mkdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const owner = Number(readOrEmpty(path.join(dir, 'pid')));
    // An empty pid file means the owner is between mkdir and writing it: treat as held.
    if (!owner || processAlive(owner)) return false;
    fs.rmSync(dir, { recursive: true, force: true });
    return tryLock(dir);
  }
  fs.writeFileSync(path.join(dir, 'pid'), String(process.pid));
  return true;
}

export function unlock(dir: string): void {
  if (Number(readOrEmpty(path.join(dir, 'pid'))) === process.pid) {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function readOrEmpty(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}

async function withLock<T>(dir: string, log: Log, fn: () => Promise<T>): Promise<T> {
  let waiting = false;
  while (!tryLock(dir)) {
    if (!waiting) {
      log(`waiting for another process installing the emulator (lock ${dir})`);
      waiting = true;
    }
    await sleep(500);
  }
  try {
    return await fn();
  } finally {
    unlock(dir);
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Whether `promise` settles within `ms`; the timer never outlives the answer. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// Running

export interface Emulator {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  port: number;
  /** moto_server's pid, which is also its process group id. */
  pid: number;
  /** moto's output, under .moto/; removed by stop() unless keepLog was set. */
  logFile: string;
  /** Forget every resource in every service (POST /moto-api/reset). */
  reset(): Promise<void>;
  /** Stop the server and wait for it to exit; safe to call twice. */
  stop(): Promise<void>;
}

export interface StartEmulatorOptions {
  /** A moto_server to run; by default ensureMoto() finds or installs one. */
  motoServer?: string;
  log?: Log;
  /** How long to wait for the server to answer; 30 s by default. */
  startTimeoutMs?: number;
  /** Keep the log file after a clean stop. */
  keepLog?: boolean;
}

const HOST = '127.0.0.1';
const STOP_GRACE_MS = 3_000;

/** moto servers this process started and has not stopped yet, by pid. */
const running = new Map<number, { watchdogPid: number | undefined; logFile: string | undefined }>();

export async function startEmulator(opts: StartEmulatorOptions = {}): Promise<Emulator> {
  const log = opts.log ?? defaultLog;
  const motoServer = opts.motoServer ?? (await ensureMoto({ log }));
  // Another process can take the free port between our probe and moto's bind: retry then.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(motoServer, log, opts);
    } catch (err) {
      if (!(err instanceof PortTakenError) || attempt === 3) throw err;
      log(`port ${err.port} was taken before moto could bind it; trying another`);
    }
  }
}

class PortTakenError extends EmulatorError {
  constructor(readonly port: number) {
    super(`port ${port} already in use`);
  }
}

async function startOnce(motoServer: string, log: Log, opts: StartEmulatorOptions): Promise<Emulator> {
  const port = await freePort();
  const endpoint = `http://${HOST}:${port}`;
  fs.mkdirSync(STATE_DIR, { recursive: true });
  const logFile = path.join(STATE_DIR, `moto-${port}.log`);
  const logFd = fs.openSync(logFile, 'w');

  let child: ChildProcess;
  try {
    child = spawn(motoServer, ['-H', HOST, '-p', String(port)], {
      detached: true,
      stdio: ['ignore', logFd, logFd],
      env: { ...process.env, PYTHONUNBUFFERED: '1' },
    });
  } finally {
    fs.closeSync(logFd);
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let hasExited = false;
  void exited.then(() => (hasExited = true));
  const pid = await new Promise<number>((resolve, reject) => {
    child.once('spawn', () => resolve(child.pid as number));
    child.once('error', (err) => {
      fs.rmSync(logFile, { force: true });
      reject(new EmulatorError(`could not run ${motoServer}: ${err.message}`));
    });
  });
  // The emulator must never keep the parent's event loop alive; stop() and the exit handlers end it.
  child.unref();
  const removableLog = opts.keepLog ? undefined : logFile;
  running.set(pid, { watchdogPid: startWatchdog(pid, removableLog), logFile: removableLog });
  installExitHandlers();

  const end = async () => {
    const entry = running.get(pid);
    if (!entry) return;
    running.delete(pid);
    if (!hasExited) {
      killGroup(pid, 'SIGTERM');
      if (!(await settlesWithin(exited, STOP_GRACE_MS))) {
        killGroup(pid, 'SIGKILL');
        await exited;
      }
    }
    if (entry.watchdogPid) killQuietly(entry.watchdogPid, 'SIGKILL');
  };
  const stop = async () => {
    await end();
    if (!opts.keepLog) fs.rmSync(logFile, { force: true });
  };

  const timeoutMs = opts.startTimeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (hasExited) {
      await end();
      const output = readOrEmpty(logFile);
      if (/address already in use/i.test(output)) {
        fs.rmSync(logFile, { force: true });
        throw new PortTakenError(port);
      }
      throw new EmulatorError(
        `moto_server exited before answering on ${endpoint}; log ${logFile}:\n${tail(output, 20)}`,
        logFile,
      );
    }
    if (await answers(`${endpoint}/moto-api/`)) break;
    if (Date.now() > deadline) {
      await end();
      throw new EmulatorError(
        `moto_server did not answer on ${endpoint} within ${timeoutMs} ms; log ${logFile}:\n${tail(readOrEmpty(logFile), 20)}`,
        logFile,
      );
    }
    await sleep(100);
  }
  log(`moto listening on ${endpoint} (pid ${pid})`);

  return { endpoint, port, pid, logFile, reset: () => resetEmulatorAt(endpoint), stop };
}

/** POST /moto-api/reset on the emulator at `endpoint`. */
export async function resetEmulatorAt(endpoint: string): Promise<void> {
  const { status, body } = await request('POST', `${endpoint}/moto-api/reset`, 10_000);
  if (status !== 200) throw new EmulatorError(`reset of ${endpoint} failed: HTTP ${status} ${body}`);
}

/**
 * One HTTP request on a connection of its own. Not fetch: its pooled keep-alive sockets would
 * hold the caller's event loop open for seconds after the last call (jest's "did not exit").
 */
function request(method: string, url: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Stop a moto_server by pid, for a caller that does not hold its Emulator (jest's global
 * teardown loads a fresh copy of this module). Resolves once the process is gone.
 */
export async function stopEmulatorByPid(pid: number): Promise<void> {
  const entry = running.get(pid);
  running.delete(pid);
  if (processAlive(pid)) {
    killGroup(pid, 'SIGTERM');
    const deadline = Date.now() + STOP_GRACE_MS;
    while (processAlive(pid) && Date.now() < deadline) await sleep(50);
    if (processAlive(pid)) {
      killGroup(pid, 'SIGKILL');
      const killed = Date.now() + STOP_GRACE_MS;
      while (processAlive(pid) && Date.now() < killed) await sleep(50);
    }
  }
  if (entry?.watchdogPid) killQuietly(entry.watchdogPid, 'SIGKILL');
  if (entry?.logFile) fs.rmSync(entry.logFile, { force: true });
}

async function answers(url: string): Promise<boolean> {
  try {
    return (await request('GET', url, 1_000)).status === 200;
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  if (pgid <= 1) return; // never -1 (every process) or init
  // Negative pid: the whole process group moto_server leads (it was spawned detached).
  if (!killQuietly(-pgid, signal)) killQuietly(pgid, signal);
}

function killQuietly(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * A tiny detached node process that polls for the parent and, once it is gone, ends moto's
 * group (SIGTERM, then SIGKILL). It exits by itself when moto is gone too.
 */
function startWatchdog(motoPid: number, logFile: string | undefined): number | undefined {
  const script = `
    const fs = require('fs');
    const [parent, moto] = process.argv.slice(1, 3).map(Number);
    const logFile = process.argv[3];
    const alive = (pid) => {
      try { process.kill(pid, 0); } catch (e) { if (e.code !== 'EPERM') return false; }
      try { return !/^\\d+ \\(.*\\) Z/.test(fs.readFileSync('/proc/' + pid + '/stat', 'utf8')); } catch { return true; }
    };
    const kill = (sig) => { if (moto <= 1) return; try { process.kill(-moto, sig); } catch { try { process.kill(moto, sig); } catch {} } };
    const finish = () => {
      if (alive(moto)) kill('SIGKILL');
      if (logFile) try { fs.rmSync(logFile, { force: true }); } catch {}
      process.exit(0);
    };
    const timer = setInterval(() => {
      if (!alive(moto)) process.exit(0);
      if (alive(parent)) return;
      clearInterval(timer);
      kill('SIGTERM');
      const deadline = Date.now() + ${STOP_GRACE_MS};
      setInterval(() => { if (!alive(moto) || Date.now() > deadline) finish(); }, 100);
    }, 500);`;
  try {
    const args = ['-e', script, String(process.pid), String(motoPid), ...(logFile ? [logFile] : [])];
    const watchdog = spawn(process.execPath, args, {
      detached: true,
      stdio: 'ignore',
    });
    watchdog.on('error', () => undefined);
    watchdog.unref();
    return watchdog.pid;
  } catch {
    return undefined;
  }
}

let exitHandlersInstalled = false;

function installExitHandlers(): void {
  if (exitHandlersInstalled) return;
  exitHandlersInstalled = true;
  const killAll = () => {
    for (const [pid, { watchdogPid, logFile }] of running) {
      killGroup(pid, 'SIGKILL');
      if (watchdogPid) killQuietly(watchdogPid, 'SIGKILL');
      if (logFile) fs.rmSync(logFile, { force: true });
    }
    running.clear();
  };
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      killAll();
      process.removeListener(signal, onSignal);
      // Keep the signal's usual effect unless someone else has taken charge of it.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}
