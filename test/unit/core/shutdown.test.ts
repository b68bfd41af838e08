// The graceful-shutdown rules (core/shutdown.ts): the command a warned instance gets, the text
// form tags and the environment use, and the patterns the SSM document enforces.
import fc from 'fast-check';
import type { InterruptionNotice, SpotWarning } from '../../../lambda/core/model';
import {
  SCRIPT_PATH_PATTERN,
  SECONDS_LEFT_PATTERN,
  SYSTEMD_UNIT_PATTERN,
  formatShutdownCommand,
  parseShutdownCommand,
  planShutdown,
  secondsLeft,
  type ShutdownSettings,
} from '../../../lambda/core/shutdown';
import { mergeShutdowns, type PlanRun } from '../../../lambda/response/merge';

const TAG = 'spot-responder:shutdown';
const SETTINGS: ShutdownSettings = { documentName: 'doc', defaultCommand: { systemdUnit: 'app.service' }, tagKey: TAG };
const warning = (instanceAction: SpotWarning['instanceAction'] = 'terminate'): SpotWarning => ({
  kind: 'spot-interruption-warning',
  eventId: 'e',
  eventTime: '2026-11-30T12:00:00Z',
  account: '123456789012',
  region: 'us-east-1',
  instanceId: 'i-0123456789abcdef0',
  instanceAction,
});

describe('planShutdown', () => {
  it('is null when graceful shutdown is off, and for a rebalance recommendation', () => {
    const rebalance: InterruptionNotice = { ...warning(), kind: 'rebalance-recommendation' } as InterruptionNotice;
    expect(planShutdown(warning(), {}, undefined, undefined)).toBeNull();
    expect(planShutdown(rebalance, {}, undefined, SETTINGS)).toBeNull();
  });

  it('sends the default command for terminate and stop warnings', () => {
    for (const action of ['terminate', 'stop'] as const) {
      expect(planShutdown(warning(action), {}, undefined, SETTINGS)).toEqual({ send: true, command: { systemdUnit: 'app.service' }, source: 'default' });
    }
  });

  it("lets the instance's tag win over its group's, and the group's over the default", () => {
    expect(planShutdown(warning(), { [TAG]: 'unit:a.service' }, { [TAG]: 'off' }, SETTINGS)).toMatchObject({ command: { systemdUnit: 'a.service' }, source: 'instance tag' });
    expect(planShutdown(warning(), {}, { [TAG]: 'script:/opt/x' }, SETTINGS)).toMatchObject({ command: { script: '/opt/x' }, source: 'group tag' });
    expect(planShutdown(warning(), {}, { [TAG]: 'Disabled' }, SETTINGS)).toEqual({ send: false, reason: `group tag ${TAG}=Disabled` });
  });

  it('sends only to tagged instances without a default command', () => {
    const settings = { documentName: 'doc', tagKey: TAG };
    expect(planShutdown(warning(), {}, undefined, settings)).toEqual({ send: false, reason: `no default command and no ${TAG} tag on the instance or its group` });
    expect(planShutdown(warning(), { [TAG]: 'unit:b.service' }, undefined, settings)).toMatchObject({ send: true });
  });
});

describe('parseShutdownCommand', () => {
  it.each([
    ['unit:nginx.service', { systemdUnit: 'nginx.service' }],
    ['UNIT: getty@tty1.service ', { systemdUnit: 'getty@tty1.service' }],
    ['script:/opt/app/bin/drain-v2.sh', { script: '/opt/app/bin/drain-v2.sh' }],
  ])('reads %j', (text, command) => {
    expect(parseShutdownCommand(text)).toEqual({ command });
    expect(parseShutdownCommand(formatShutdownCommand(command))).toEqual({ command });
  });

  it.each(['nginx.service', 'unit:', 'unit:nginx', 'unit:a b.service', 'unit:$(reboot).service', 'script:relative/x', 'script:/opt/a b', 'script:/opt/`id`', 'script:/a/../b', 'exec:/bin/sh'])(
    'refuses %j',
    (text) => {
      expect(parseShutdownCommand(text)).toHaveProperty('problem');
    },
  );

  it('never accepts a shell metacharacter, whatever the text', () => {
    fc.assert(
      fc.property(fc.constantFrom('unit:', 'script:/'), fc.string(), (prefix, rest) => {
        const parsed = parseShutdownCommand(prefix + rest);
        if ('command' in parsed) {
          const value = 'systemdUnit' in parsed.command ? parsed.command.systemdUnit : parsed.command.script;
          expect(value).not.toMatch(/[\s'"`$;&|<>(){}*?!\\#~]/);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('the document patterns', () => {
  it('accept 1 to 120 seconds and nothing else', () => {
    const seconds = new RegExp(SECONDS_LEFT_PATTERN);
    for (let n = -1; n <= 200; n++) expect(seconds.test(String(n))).toBe(n >= 1 && n <= 120);
    expect(seconds.test('01')).toBe(false);
  });

  it('are anchored', () => {
    for (const pattern of [SYSTEMD_UNIT_PATTERN, SCRIPT_PATH_PATTERN, SECONDS_LEFT_PATTERN]) {
      expect(pattern.startsWith('^')).toBe(true);
      expect(pattern.endsWith('$')).toBe(true);
    }
  });
});

describe('secondsLeft and mergeShutdowns', () => {
  const at = Date.parse('2026-11-30T12:00:00Z');
  const run = (instanceId: string, deadline: number, command = { systemdUnit: 'app.service' }): PlanRun => ({
    instanceId,
    deadline,
    plan: { deregistrations: [], replacement: null, ecsDrain: null, shutdown: { send: true, command, source: 'default' } },
  });

  it('floors to whole seconds, caps at 120, and gives null under one second', () => {
    expect(secondsLeft(at + 115_999, at)).toBe(115);
    expect(secondsLeft(at + 500_000, at)).toBe(120);
    expect(secondsLeft(at + 999, at)).toBeNull();
  });

  it('groups instances by command and seconds left; too-late runs are set apart', () => {
    const runs = [
      run('i-1', at + 115_200),
      run('i-2', at + 115_900),
      run('i-3', at + 117_000),
      run('i-4', at + 115_000, { systemdUnit: 'other.service' }),
      run('i-5', at + 500),
      { instanceId: 'i-6', deadline: at + 100_000, plan: { deregistrations: [], replacement: null, ecsDrain: null, shutdown: { send: false, reason: 'off' } } } satisfies PlanRun,
    ];
    const { calls, tooLate } = mergeShutdowns(runs, at);
    expect(calls.map((c) => [c.seconds, c.items.map((i) => i.item)])).toEqual([
      [115, ['i-1', 'i-2']],
      [117, ['i-3']],
      [115, ['i-4']],
    ]);
    expect(tooLate.map((c) => c.item)).toEqual(['i-5']);
  });
});
