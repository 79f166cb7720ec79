// The API reference page: Swagger UI, served by the server itself, renders every operation
// of the OpenAPI document under the page's Content-Security-Policy (nothing from outside).
// Usage: node api_docs.mjs BASE ARTIFACTS EXPECTED_OPERATIONS
import { join } from 'node:path';
import { launch, fail } from './lib.mjs';

const [base, artifacts, expected] = process.argv.slice(2);
const ctx = await launch(null, { width: 1366, height: 768 });
const page = await ctx.newPage();
const errors = [];
const outside = [];
page.on('pageerror', (e) => errors.push(e.message));
page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) errors.push(m.text()); });
page.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('data:')) outside.push(r.url()); });
try {
  const r = await page.goto(`${base}/api/docs`);
  if (r.status() !== 200) await fail(page, artifacts, `status ${r.status()}`);
  await page.waitForSelector('.opblock', { timeout: 20000 });
  const n = await page.locator('.opblock').count();
  if (String(n) !== expected) await fail(page, artifacts, `${n} operations shown, ${expected} documented`);
  const title = await page.textContent('.title');
  if (!title.includes('Hồ Sơ')) await fail(page, artifacts, `title ${title}`);
  await page.screenshot({ path: join(artifacts, 'api-docs.png') });
  if (outside.length) await fail(page, artifacts, `requests outside the server: ${outside.join(', ')}`);
  if (errors.length) await fail(page, artifacts, `page errors: ${errors.join('; ')}`);
  console.log(`OK api docs ${n} operations`);
} catch (e) {
  await fail(page, artifacts, e.stack || String(e));
} finally {
  await ctx.close();
}
