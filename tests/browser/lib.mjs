// Shared browser-test helpers: Debian's Chromium, headless, with a fake camera fed from a
// .y4m file. Never downloads a browser.
import { chromium } from 'playwright-core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function launch(y4m, viewport) {
  const userDataDir = mkdtempSync(join(tmpdir(), 'hoso-chromium-'));
  const args = [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
    '--autoplay-policy=no-user-gesture-required',
  ];
  if (y4m) args.push(`--use-file-for-fake-video-capture=${y4m}`);
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args,
    viewport: viewport || { width: 1000, height: 1400 },
  });
}

/// Fails the test with a message (exit code 1), after a screenshot if a page is given.
export async function fail(page, artifacts, msg) {
  if (page) await page.screenshot({ path: join(artifacts, 'failure.png'), fullPage: true }).catch(() => {});
  console.error(`FAIL: ${msg}`);
  process.exit(1);
}
