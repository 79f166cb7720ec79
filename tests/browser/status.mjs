// The receipt QR's link on a phone: the public status page of that one dossier, readable
// at 390×844 without sideways scrolling.
// Usage: node status.mjs URL ARTIFACTS CODE
import { join } from 'node:path';
import { launch, fail } from './lib.mjs';

const [url, artifacts, code] = process.argv.slice(2);
const ctx = await launch(null, { width: 390, height: 844 });
const page = await ctx.newPage();
const errors = [];
page.on('pageerror', (e) => errors.push(e.message));
try {
  const r = await page.goto(url);
  if (r.status() !== 200) await fail(page, artifacts, `status ${r.status()}`);
  const text = await page.textContent('body');
  if (!text.includes(code)) await fail(page, artifacts, `code ${code} not on the page`);
  if (!/Hẹn trả/.test(text)) await fail(page, artifacts, 'no appointment on the page');
  const wide = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  if (wide) await fail(page, artifacts, 'the page scrolls sideways on a phone');
  await page.screenshot({ path: join(artifacts, 'status-page-phone.png'), fullPage: true });
  if (errors.length) await fail(page, artifacts, `page errors: ${errors.join('; ')}`);
  console.log('OK status page on a phone');
} catch (e) {
  await fail(page, artifacts, e.stack || String(e));
} finally {
  await ctx.close();
}
