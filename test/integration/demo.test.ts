// `spot-responder demo`, the README's first command, run whole: it starts its own moto, builds
// the fleet, and must tell the story it promises (doctor, warning with graceful shutdown, duplicate, state changes, a
// wave as one batch, history, report) and exit 0. It checks its own story (see storyHeld in
// cli/demo.ts); this test also checks what the newcomer reads.
import { runDemo } from '../../cli/demo';

jest.setTimeout(300_000);

describe('demo', () => {
  it('tells the whole story on its own emulator and exits 0', async () => {
    // Act
    const lines: string[] = [];
    const code = await runDemo({ print: (line) => lines.push(line) });
    const text = lines.join('\n');

    // Assess
    expect(code).toBe(0);
    expect(text).toMatch(/\[1\/12\] Starting the local AWS emulator/);
    expect(text).toMatch(/spot-responder doctor/);
    expect(text).toMatch(/LOSES TRAFFIC during an interruption/); // the demo fleet keeps the 300 s default delay
    expect(text).toMatch(/HANDLED {2}event/);
    expect(text).toMatch(/in no target group, detached from the group/);
    expect(text).toMatch(/graceful shutdown: SSM SpotResponder-GracefulShutdown +ok .*command [0-9a-f-]+, \d+ s left/);
    expect(text).toMatch(/SSM Success +-> handled: added shutdown-command-finished \(Success\)/);
    expect(text).toMatch(/DUPLICATE {2}event/);
    expect(text).toMatch(/fleet unchanged/);
    expect(text).toMatch(/all 5 out of every target group/);
    expect(text).toMatch(/PER POOL/);
    expect(text).toMatch(/6 interruptions from/);
    expect(text).toMatch(/Demo finished: traffic stopped/);
    expect(text).toMatch(/emulator stopped/);
  });
});
