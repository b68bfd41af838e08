// `spot-responder doctor`: a read-only preflight of the account's Spot readiness. Reads the
// deployed responder's scope (deployed.ts) and the fleet (inspect.ts), applies the rules
// (checks.ts), prints each finding with its fix.
import { clientsFor, regionOf, type AwsTarget } from '../aws-target';
import { diagnose, SEVERITY_ORDER, type Finding, type Severity } from './checks';
import {
  checkedScope,
  flagsCoverEverything,
  readDeployedConfig,
  type DeployedClients,
  type DeployedLookup,
  type ScopeFlags,
  type ScopeSource,
} from './deployed';
import { inspectFleet, type InspectStats } from './inspect';
import type { ResponseMode } from '../../lambda/config';

export interface DoctorOptions extends AwsTarget, ScopeFlags {
  json: boolean;
  /**
   * The deployed stack whose responder's scope and graceful-shutdown setting are checked
   * (default SpotResponder; on an emulator, only when given). The scope flags override it.
   */
  stackName?: string;
  /** Describe calls per second per service. */
  callsPerSecond?: number;
}

/** What the scope check used, for `--json` (and the text's `scope:` line). */
export interface ReportedScope {
  /** stack: the deployed function's environment; flags: typed; stack+flags: both; none: not checked. */
  from: ScopeSource;
  stackName?: string;
  functionName?: string;
  /** The deployed function's RESPONSE_MODE (observe changes nothing in the fleet). */
  mode?: ResponseMode;
  autoScalingGroupNames?: readonly string[];
  targetGroupNames?: readonly string[];
  gracefulShutdown: boolean;
  /** Why the deployed configuration was not read (not deployed, access denied ...). */
  notChecked?: string;
}

/** The whole answer of one doctor run: what `--json` prints. */
export interface DoctorReport {
  scope: ReportedScope;
  findings: Finding[];
  counts: Record<Severity, number>;
  inspected: { targetGroups: number; autoScalingGroups: number; spotAutoScalingGroups: number };
  calls: InspectStats;
  /** 1 when a finding would lose traffic during an interruption, else 0. */
  exitCode: 0 | 1;
}

/**
 * Runs the preflight and prints it. The scope and graceful-shutdown setting come from the
 * deployed responder (readDeployedConfig), each overridden by its flag; not read at all when
 * every flag is given. Returns the report; its exitCode is 1 when any finding would lose traffic,
 * 0 otherwise. AWS errors of the fleet's reads (AccessDenied, no credentials) propagate to the
 * CLI's error handler (exit 2); a stack that is missing or denied is reported as not checked.
 */
export async function runDoctor(
  opts: DoctorOptions & { region?: string },
  print: (line: string) => void,
  deployedClients?: DeployedClients,
): Promise<DoctorReport> {
  const lookup: DeployedLookup | undefined = flagsCoverEverything(opts)
    ? undefined
    : await readDeployedConfig({ ...opts, region: opts.region ?? regionOf(opts) }, opts.stackName, deployedClients);
  const checked = checkedScope(opts, lookup);
  const clients = clientsFor(opts);
  try {
    const { facts, stats } = await inspectFleet(clients, {
      ...(checked.scope ? { scope: checked.scope } : {}),
      ...(opts.callsPerSecond ? { callsPerSecond: opts.callsPerSecond } : {}),
      ...(checked.gracefulShutdown ? { gracefulShutdown: true } : {}),
    });
    const problem = lookup?.status === 'invalid' ? { stackName: lookup.stackName, functionName: lookup.functionName, problem: lookup.problem } : undefined;
    const withProblem = problem ? { ...facts, deployedConfigProblem: problem } : facts;
    const report = reportOf(reportedScope(checked), diagnose(withProblem), withProblem, stats);
    if (opts.json) print(JSON.stringify(report));
    else printReport(report, print);
    return report;
  } finally {
    for (const client of Object.values(clients)) client.destroy();
  }
}

function reportedScope(checked: ReturnType<typeof checkedScope>): ReportedScope {
  const { deployed } = checked;
  return {
    from: checked.from,
    ...(deployed ? { stackName: deployed.stackName, functionName: deployed.functionName, mode: deployed.mode } : {}),
    ...(checked.scope ? { ...checked.scope } : {}),
    gracefulShutdown: checked.gracefulShutdown,
    ...(checked.notChecked ? { notChecked: checked.notChecked } : {}),
  };
}

/** The `scope:` line: where the checked scope came from, or why the deployed one was not read. */
export function scopeLine(scope: ReportedScope): string {
  const patterns = (names: readonly string[] | undefined) => (names ?? []).join(' ');
  const lists = `autoScalingGroupNames ${patterns(scope.autoScalingGroupNames)}, targetGroupNames ${patterns(scope.targetGroupNames)}`;
  const shutdown = `graceful shutdown ${scope.gracefulShutdown ? 'on' : 'off'}`;
  const where =
    scope.from === 'none'
      ? 'none (not checked)'
      : scope.from === 'flags'
        ? `flags: ${lists}`
        : `${scope.from === 'stack+flags' ? 'flags over ' : ''}stack ${scope.stackName} (function ${scope.functionName}` +
          `${scope.mode === 'observe' ? ', observe mode: it changes nothing yet' : ''}): ${lists}`;
  return `scope: ${where}; ${shutdown}${scope.notChecked ? `\ndeployed scope not checked: ${scope.notChecked}` : ''}`;
}

function reportOf(scope: ReportedScope, findings: Finding[], facts: Parameters<typeof diagnose>[0], calls: InspectStats): DoctorReport {
  const counts = Object.fromEntries(SEVERITY_ORDER.map((s) => [s, findings.filter((f) => f.severity === s).length])) as Record<
    Severity,
    number
  >;
  return {
    scope,
    findings,
    counts,
    inspected: {
      targetGroups: facts.targetGroups.length,
      autoScalingGroups: facts.autoScalingGroups.length,
      spotAutoScalingGroups: facts.autoScalingGroups.filter((g) => g.usesSpot).length,
    },
    calls,
    exitCode: counts['loses-traffic'] > 0 ? 1 : 0,
  };
}

const HEADINGS: Record<Severity, string> = {
  'loses-traffic': 'LOSES TRAFFIC during an interruption',
  risk: 'RISK when a warning comes late or never',
  advice: 'ADVICE: fewer or cheaper interruptions',
};

function printReport(report: DoctorReport, print: (line: string) => void): void {
  const { inspected, calls } = report;
  for (const line of scopeLine(report.scope).split('\n')) print(line);
  print(
    `inspected ${inspected.targetGroups} target groups and ${inspected.autoScalingGroups} Auto Scaling groups ` +
      `(${inspected.spotAutoScalingGroups} running Spot) with ${calls.elbv2Calls} ELBv2, ${calls.autoScalingCalls} ` +
      `Auto Scaling and ${calls.ec2Calls} EC2${calls.ssmCalls > 0 ? ` and ${calls.ssmCalls} SSM` : ''} describe calls`,
  );
  if (report.findings.length === 0) {
    print('no findings: the fleet fits the two-minute notice');
    return;
  }
  for (const severity of SEVERITY_ORDER) {
    const findings = report.findings.filter((f) => f.severity === severity);
    if (findings.length === 0) continue;
    print('');
    print(`${HEADINGS[severity]} (${findings.length})`);
    for (const f of findings) {
      print(`  ${f.resourceType} ${f.resource}: ${f.problem}`);
      print(`    fix: ${f.fix}`);
    }
  }
}
