// `spot-responder drill`: starts the stack's FIS experiment (lib/drill.ts), waits for it to end,
// then reads the records until every interrupted instance scores a pass or the settle time runs
// out, and prints the verdict per instance (score.ts). Exit 1 on any failure.
import { randomUUID } from 'node:crypto';
import {
  FisClient,
  GetExperimentCommand,
  StartExperimentCommand,
  paginateListExperimentResolvedTargets,
  type Experiment,
} from '@aws-sdk/client-fis';
import { AWS_CALL_POLICY, sleep as realSleep, type Sleep } from '../../lambda/aws/clients';
import type { HistoryPort } from '../../lambda/core/ports';
import { clientOptionsFor, type AwsTarget } from '../aws-target';
import { formatTable } from '../format';
import { recordsByInstance, scoreDrill, type Check, type DrillScore } from './score';

/** The FIS states an experiment ends in (GetExperiment state.status). */
const FINAL = new Set(['completed', 'stopped', 'failed']);
const INSTANCE_ID = /\bi-[0-9a-f]{8,17}\b/;

export interface DrillOptions {
  experimentTemplateId: string;
  json: boolean;
  /** How often GetExperiment is asked, ms. @default 15 s */
  pollMs?: number;
  /** How long the experiment may run before the drill gives up, ms. @default 30 min */
  experimentTimeoutMs?: number;
  /** How long to wait, after the experiment, for the records to show every check, ms. @default 10 min */
  settleMs?: number;
}

export interface DrillDeps {
  fis: FisClient;
  history: HistoryPort;
  now?: () => number;
  sleep?: Sleep;
}

/** What `--json` prints. */
export interface DrillReport {
  experimentTemplateId: string;
  experimentId: string;
  experimentStatus: string;
  experimentReason: string | null;
  startedAt: string;
  endedAt: string | null;
  /** Where the instance ids came from: FIS's resolved targets, or the records of the experiment's window. */
  targetsFrom: 'fis' | 'records';
  score: DrillScore;
  exitCode: 0 | 1;
}

/**
 * A FIS client with the CLI's explicit retry settings (5 attempts, standard mode: backoff with
 * jitter, throttling retried). @aws-sdk/client-fis is 3.523 here (the newest the registry
 * offers), older than the other clients, so it takes the SDK's own retry options rather than
 * our shared retry strategy object.
 */
export function fisClientFor(target: AwsTarget): FisClient {
  const { region, endpoint, credentials } = clientOptionsFor(target);
  return new FisClient({
    ...(region ? { region } : {}),
    ...(endpoint ? { endpoint } : {}),
    ...(credentials ? { credentials: credentials as never } : {}),
    maxAttempts: AWS_CALL_POLICY.maxAttempts,
    retryMode: 'standard',
  });
}

/**
 * Starts the experiment (StartExperiment with a fresh client token: a retried call starts it
 * once), waits for it to end (GetExperiment every pollMs), finds the instances it interrupted
 * (ListExperimentResolvedTargets; else the warnings recorded in its window) and scores them from
 * the records, reading again until all pass or settleMs has passed. Throws the SDK's error when
 * FIS refuses (no such template, AccessDenied) and an Error when the experiment outlives its timeout.
 * https://docs.aws.amazon.com/fis/latest/APIReference/API_StartExperiment.html
 */
export async function runDrill(opts: DrillOptions, deps: DrillDeps, print: (line: string) => void): Promise<DrillReport> {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? realSleep;
  const pollMs = opts.pollMs ?? 15_000;
  const started = await deps.fis.send(
    new StartExperimentCommand({
      experimentTemplateId: opts.experimentTemplateId,
      clientToken: randomUUID(),
      tags: { 'spot-responder': 'drill' },
    }),
  );
  const experimentId = started.experiment?.id;
  if (!experimentId) throw new Error(`FIS started no experiment for template ${opts.experimentTemplateId}`);
  const startedAt = (started.experiment?.startTime ?? new Date(now())).toISOString();
  if (!opts.json) print(`started experiment ${experimentId} (template ${opts.experimentTemplateId}) at ${startedAt}; waiting for it to end ...`);

  let experiment: Experiment | undefined = started.experiment;
  const giveUpAt = now() + (opts.experimentTimeoutMs ?? 30 * 60_000);
  while (!FINAL.has(experiment?.state?.status ?? '')) {
    if (now() > giveUpAt) throw new Error(`experiment ${experimentId} is still ${experiment?.state?.status ?? 'unknown'} after the timeout; see the FIS console`);
    await sleep(pollMs);
    experiment = (await deps.fis.send(new GetExperimentCommand({ id: experimentId }))).experiment;
  }
  const status = experiment?.state?.status ?? 'unknown';
  const endedAt = experiment?.endTime ? experiment.endTime.toISOString() : null;
  if (!opts.json) print(`experiment ${status}${experiment?.state?.reason ? `: ${experiment.state.reason}` : ''}; reading the records ...`);

  const fromFis = await resolvedInstances(deps.fis, experimentId);
  const settleUntil = now() + (opts.settleMs ?? 10 * 60_000);
  let score: DrillScore;
  let instanceIds: string[];
  for (;;) {
    const records = await deps.history.history({ since: startedAt });
    const byInstance = recordsByInstance(records, startedAt);
    instanceIds = fromFis.length > 0 ? fromFis : [...byInstance.keys()].sort();
    score = scoreDrill(instanceIds, byInstance);
    if (score.pass || now() >= settleUntil) break;
    await sleep(pollMs);
  }
  const report: DrillReport = {
    experimentTemplateId: opts.experimentTemplateId,
    experimentId,
    experimentStatus: status,
    experimentReason: experiment?.state?.reason ?? null,
    startedAt,
    endedAt,
    targetsFrom: fromFis.length > 0 ? 'fis' : 'records',
    score,
    exitCode: score.pass && status === 'completed' ? 0 : 1,
  };
  if (opts.json) print(JSON.stringify(report));
  else formatDrill(report).forEach((line) => print(line));
  return report;
}

/** The instance ids FIS resolved for the experiment's targets (ARNs or ids in targetInformation). */
async function resolvedInstances(fis: FisClient, experimentId: string): Promise<string[]> {
  const ids = new Set<string>();
  for await (const page of paginateListExperimentResolvedTargets({ client: fis }, { experimentId })) {
    for (const target of page.resolvedTargets ?? []) {
      for (const value of Object.values(target.targetInformation ?? {})) {
        const id = INSTANCE_ID.exec(value)?.[0];
        if (id) ids.add(id);
      }
    }
  }
  return [...ids].sort();
}

const mark = (c: Check) => (c.result === 'pass' ? '✓' : c.result === 'fail' ? '✗' : '·');
const cell = (c: Check) => `${mark(c)} ${c.ms === null ? c.result : `${(c.ms / 1000).toFixed(1)} s`}`;

/** The verdict as terminal lines: one row per instance, then each failed check's detail. */
export function formatDrill(report: DrillReport): string[] {
  const { score } = report;
  const lines = [
    `${score.pass && report.exitCode === 0 ? 'PASS' : 'FAIL'}  experiment ${report.experimentId} ${report.experimentStatus}: ` +
      `${score.passed} of ${score.instances.length} instance(s) passed (targets from ${report.targetsFrom === 'fis' ? "FIS's resolved targets" : 'the records of its window'})`,
  ];
  if (score.instances.length === 0) lines.push('  no interrupted instance found: did the template match any running, tagged Spot instance?');
  else {
    lines.push(
      formatTable(
        ['instance', 'warned', 'traffic stopped', 'replacement', 'healthy', 'verdict'],
        score.instances.map((i) => [
          i.instanceId,
          cell(i.warned),
          cell(i.trafficStoppedBeforeDeadline),
          cell(i.replacementLaunched),
          cell(i.replacementHealthy),
          i.pass ? 'pass' : 'FAIL',
        ]),
      ),
    );
  }
  for (const i of score.instances) {
    for (const c of [i.warned, i.trafficStoppedBeforeDeadline, i.replacementLaunched, i.replacementHealthy]) {
      if (c.result === 'fail') lines.push(`  ${i.instanceId}: ${c.detail}`);
    }
  }
  if (report.experimentStatus !== 'completed') lines.push(`  the experiment did not complete: ${report.experimentStatus}${report.experimentReason ? ` (${report.experimentReason})` : ''}`);
  return lines;
}

