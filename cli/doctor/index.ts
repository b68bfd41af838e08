// `spot-responder doctor`: a read-only preflight of the account's Spot readiness. Reads the fleet
// (inspect.ts), applies the rules (checks.ts), prints each finding with its fix.
import { clientsFor, type AwsTarget } from '../aws-target';
import { diagnose, SEVERITY_ORDER, type Finding, type Severity } from './checks';
import { inspectFleet, type InspectStats } from './inspect';

export interface DoctorOptions extends AwsTarget {
  json: boolean;
  /** The responder's scope patterns, to check against what exists; absent: not checked. */
  autoScalingGroupNames?: string[];
  targetGroupNames?: string[];
  /** Describe calls per second per service. */
  callsPerSecond?: number;
  /** Graceful shutdown is on: report Spot instances without an online SSM agent. */
  gracefulShutdown?: boolean;
}

/** The whole answer of one doctor run: what `--json` prints. */
export interface DoctorReport {
  findings: Finding[];
  counts: Record<Severity, number>;
  inspected: { targetGroups: number; autoScalingGroups: number; spotAutoScalingGroups: number };
  calls: InspectStats;
  /** 1 when a finding would lose traffic during an interruption, else 0. */
  exitCode: 0 | 1;
}

/**
 * Runs the preflight and prints it. Returns the exit code: 1 when any finding would lose
 * traffic, 0 otherwise. AWS errors (AccessDenied, no credentials) propagate to the CLI's error
 * handler (exit 2).
 */
export async function runDoctor(opts: DoctorOptions, print: (line: string) => void): Promise<DoctorReport> {
  const scope =
    opts.autoScalingGroupNames || opts.targetGroupNames
      ? { autoScalingGroupNames: opts.autoScalingGroupNames ?? ['*'], targetGroupNames: opts.targetGroupNames ?? ['*'] }
      : undefined;
  const { facts, stats } = await inspectFleet(clientsFor(opts), {
    ...(scope ? { scope } : {}),
    ...(opts.callsPerSecond ? { callsPerSecond: opts.callsPerSecond } : {}),
    ...(opts.gracefulShutdown ? { gracefulShutdown: true } : {}),
  });
  const report = reportOf(diagnose(facts), facts, stats);
  if (opts.json) print(JSON.stringify(report));
  else printReport(report, print);
  return report;
}

function reportOf(findings: Finding[], facts: Parameters<typeof diagnose>[0], calls: InspectStats): DoctorReport {
  const counts = Object.fromEntries(SEVERITY_ORDER.map((s) => [s, findings.filter((f) => f.severity === s).length])) as Record<
    Severity,
    number
  >;
  return {
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
