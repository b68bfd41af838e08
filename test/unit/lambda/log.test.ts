import { Logger } from '@aws-lambda-powertools/logger';
import { jsonLinesLog, powertoolsLog, silentLog } from '../../../lambda/log';

describe('powertoolsLog', () => {
  it('writes structured JSON lines that carry the child keys', () => {
    // Prepare
    const lines: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    const log = powertoolsLog(new Logger({ serviceName: 'spot-responder', logLevel: 'DEBUG' }));
    try {
      // Act
      log.child({ eventId: 'evt-1', instanceId: 'i-0123456789abcdef0' }).info('response finished', { outcome: 'handled' });
    } finally {
      spy.mockRestore();
    }
    // Assess
    const entry = JSON.parse(lines.join('').trim().split('\n').pop() as string) as Record<string, unknown>;
    expect(entry).toMatchObject({
      level: 'INFO',
      message: 'response finished',
      service: 'spot-responder',
      eventId: 'evt-1',
      instanceId: 'i-0123456789abcdef0',
      outcome: 'handled',
    });
  });

  it('has a silent twin whose children are silent too', () => {
    expect(silentLog.child({ a: 1 })).toBe(silentLog);
    expect(() => silentLog.error('nothing')).not.toThrow();
  });
});

describe('jsonLinesLog (the CLI\'s --verbose)', () => {
  it('writes one JSON line per entry to its sink, never stdout, with the child keys, from the minimum level up', () => {
    // Prepare
    const lines: string[] = [];
    const stdout = jest.spyOn(process.stdout, 'write');
    const log = jsonLinesLog((line) => lines.push(line), 'info');

    // Act
    const child = log.child({ eventId: 'evt-1' });
    child.debug('too chatty');
    child.info('response finished', { outcome: 'handled' });
    log.error('failed', { reason: 'x' });

    // Assess
    expect(stdout).not.toHaveBeenCalled();
    stdout.mockRestore();
    expect(lines).toHaveLength(2);
    expect(lines.every((l) => l.endsWith('\n'))).toBe(true);
    expect(JSON.parse(lines[0] as string)).toMatchObject({ level: 'INFO', message: 'response finished', eventId: 'evt-1', outcome: 'handled', service: 'spot-responder' });
    expect(JSON.parse(lines[1] as string)).toMatchObject({ level: 'ERROR', message: 'failed', reason: 'x' });
    expect(JSON.parse(lines[1] as string)).not.toHaveProperty('eventId');
  });
});
