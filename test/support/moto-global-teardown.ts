// Stops the emulator the global setup started (and only that one: an endpoint given from
// outside is left alone). jest shares globalThis between global setup and teardown; the pid in
// the environment is the fallback should it ever stop doing so.
import { stopEmulatorByPid, type Emulator } from '../../dev/emulator';
import { EMULATOR_HANDLE, EMULATOR_PID_ENV, ENDPOINT_ENV } from './emulator-env';

export default async function globalTeardown(): Promise<void> {
  const handles = globalThis as Record<string, unknown>;
  const emulator = handles[EMULATOR_HANDLE] as Emulator | undefined;
  const pid = Number(process.env[EMULATOR_PID_ENV]);
  delete handles[EMULATOR_HANDLE];
  delete process.env[EMULATOR_PID_ENV];
  if (emulator) await emulator.stop();
  else if (pid) await stopEmulatorByPid(pid);
  else return;
  delete process.env[ENDPOINT_ENV];
}
