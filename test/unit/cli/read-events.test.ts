import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadEventFiles, replayExitCode, retarget } from '../../../cli/read-events';
import { loadEvent } from '../../support/fixtures';

describe('retarget', () => {
  it('points the sample at another instance: detail and the instance ARN', () => {
    // Prepare
    const event = loadEvent('spot-interruption-warning/terminate.json');
    // Act
    const moved = retarget(event, 'i-0fedcba9876543210') as Record<string, unknown>;
    // Assess
    expect(moved.detail).toEqual({ 'instance-id': 'i-0fedcba9876543210', 'instance-action': 'terminate' });
    expect(moved.resources).toEqual(['arn:aws:ec2:us-east-1b:instance/i-0fedcba9876543210']);
    expect(moved.id).toBe(event.id);
    expect((event.detail as Record<string, unknown>)['instance-id']).toBe('i-1234567890abcdef0');
  });

  it('leaves what is not an event object alone, to be rejected as it is', () => {
    expect(retarget('text', 'i-0fedcba9876543210')).toBe('text');
    expect(retarget([1], 'i-0fedcba9876543210')).toEqual([1]);
  });
});

describe('loadEventFiles', () => {
  it('reads arrays and single events in order, reports bad files by name, and retargets on request', async () => {
    // Prepare
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'events-'));
    const one = path.join(dir, 'one.json');
    const many = path.join(dir, 'many.json');
    const broken = path.join(dir, 'broken.json');
    fs.writeFileSync(one, JSON.stringify(loadEvent('spot-interruption-warning/stop.json')));
    fs.writeFileSync(many, JSON.stringify([loadEvent('spot-interruption-warning/terminate.json'), loadEvent('spot-interruption-warning/hibernate.json')]));
    fs.writeFileSync(broken, '{"version": "0",');
    const errors: string[] = [];

    // Act
    const { events, fileErrors } = await loadEventFiles([one, broken, many], (line) => errors.push(line), 'i-0fedcba9876543210');

    // Assess
    expect(events.map((e) => ((e as { detail: Record<string, string> }).detail)['instance-action'])).toEqual(['stop', 'terminate', 'hibernate']);
    expect(events.every((e) => (e as { detail: Record<string, string> }).detail['instance-id'] === 'i-0fedcba9876543210')).toBe(true);
    expect(fileErrors).toEqual([expect.stringMatching(new RegExp(`^${broken.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not valid JSON`))]);
    expect(errors).toEqual([`error: ${fileErrors[0]}`]);
  });
});

describe('replayExitCode', () => {
  it('is 2 for an unreadable file, else 1 for a failed event, else 0', () => {
    expect(replayExitCode([{ outcome: 'handled' }], ['x: not valid JSON'])).toBe(2);
    expect(replayExitCode([{ outcome: 'handled' }, { outcome: 'failed' }], [])).toBe(1);
    expect(replayExitCode([{ outcome: 'duplicate' }, { outcome: 'rejected' }], [])).toBe(0);
  });
});
