// Starts the one emulator the whole integration run shares. Workers are forked after this
// runs and inherit process.env, so the endpoint travels to them through the environment; the
// Emulator itself stays in this (jest's main) process for the teardown.
//
// Set SPOT_RESPONDER_TEST_ENDPOINT yourself (e.g. to a moto_server you started by hand) and
// the run uses that instead of starting one.
import { ensureMoto, startEmulator, type Emulator } from '../../dev/emulator';
import { EMULATOR_HANDLE, EMULATOR_PID_ENV, ENDPOINT_ENV } from './emulator-env';

export default async function globalSetup(): Promise<void> {
  if (process.env[ENDPOINT_ENV]) {
    process.stderr.write(`[emulator] using ${process.env[ENDPOINT_ENV]} from ${ENDPOINT_ENV}\n`);
    return;
  }
  const log = (line: string) => process.stderr.write(`[emulator] ${line}\n`);
  const motoServer = await ensureMoto({ log });
  const emulator = await startEmulator({ motoServer, log });
  process.env[ENDPOINT_ENV] = emulator.endpoint;
  process.env[EMULATOR_PID_ENV] = String(emulator.pid);
  (globalThis as Record<string, unknown>)[EMULATOR_HANDLE] = emulator satisfies Emulator;
}
