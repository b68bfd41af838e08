// A real headless browser for tests: Chromium from the distribution's packages (Debian:
// `apt-get install chromium`), driven by puppeteer-core, which downloads no browser of its own.
// When none is installed, chromiumPath() is undefined and the tests that need it say so and skip.
import { existsSync } from 'node:fs';

/** Where Debian, Ubuntu and the Chrome packages put the binary; CHROMIUM_PATH first. */
const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

/** The Chromium to drive, or undefined when none is installed. */
export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const chosen = env.CHROMIUM_PATH;
  if (chosen) return existsSync(chosen) ? chosen : undefined;
  return CANDIDATES.find((p) => existsSync(p));
}

/** What a skipped browser test prints, so a green run without a browser is not mistaken for a checked page. */
export const NO_CHROMIUM_MESSAGE =
  'SKIPPED: no Chromium binary found (looked for CHROMIUM_PATH, ' + CANDIDATES.join(', ') + '); ' +
  'install it with `apt-get install -y chromium` (.ci/run does) to test the report page in a real browser';
