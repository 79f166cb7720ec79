// Shared browser-test helpers: Debian's Chromium, headless, with a fake camera fed from a
// .y4m file. Never downloads a browser.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function launch(y4m, viewport) {
  const userDataDir = mkdtempSync(join(tmpdir(), 'hoso-chromium-'));
  // The browser profile goes when the test's process ends, passed or failed.
  process.on('exit', () => rmSync(userDataDir, { recursive: true, force: true }));
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

/// Opens the clerk desk and signs in; resolves once the desk's first step shows.
export async function clerkSignIn(page, base, user, password) {
  await page.goto(`${base}/clerk/`);
  await page.waitForSelector('text=Đăng nhập cán bộ tiếp nhận');
  await page.fill('#login-form [name=username]', user);
  await page.fill('#login-form [name=password]', password);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#applicant-step:not([hidden])');
}

/// A desk page (1366×768) collecting page and console errors, and a screenshot function
/// saving `<prefix><name>.png` into the artifacts folder.
export async function deskPage(artifacts, prefix) {
  const ctx = await launch(null, { width: 1366, height: 768 });
  const page = await ctx.newPage();
  page.setDefaultTimeout(20000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  const shot = (name) => page.screenshot({ path: join(artifacts, `${prefix}${name}.png`), fullPage: true });
  return { ctx, page, errors, shot };
}
