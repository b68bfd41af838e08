import { Logger } from '@aws-lambda-powertools/logger';
import { powertoolsLog, silentLog } from '../../../lambda/log';

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
