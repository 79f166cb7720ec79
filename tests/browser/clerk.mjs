// The clerk's desk end to end in a real browser with a fake camera playing a face:
// sign in → applicant → consent → 3 frames enrolled → dossier → receipt printed.
// Usage: node clerk.mjs BASE_URL FACE.y4m ARTIFACT_DIR USER PASSWORD CODE
import { join } from 'node:path';
import { launch, fail, clerkSignIn } from './lib.mjs';

const [base, y4m, artifacts, user, password, code] = process.argv.slice(2);
const ctx = await launch(y4m);
const page = await ctx.newPage();
page.setDefaultTimeout(30000);
const errors = [];
page.on('pageerror', (e) => errors.push(e.message));
try {
  await clerkSignIn(page, base, user, password);

  // A wrong ID number is refused in words, and nothing moves on.
  await page.fill('[name=full_name]', 'Nguyễn Thị Ánh');
  await page.fill('[name=id_number]', '003099012345');
  await page.click('#applicant-form button[type=submit]');
  await page.waitForSelector('#message:not([hidden])');
  const err = await page.textContent('#message');
  if (!err.includes('Dữ liệu chưa đúng')) await fail(page, artifacts, `no clear error for a bad ID number: ${err}`);

  await page.fill('[name=id_number]', '001199012345');
  await page.click('#applicant-form button[type=submit]');
  await page.waitForSelector('#consent-step:not([hidden])');
  const text = await page.textContent('#consent-text');
  if (!text.includes('nhạy cảm')) await fail(page, artifacts, 'consent text not shown');
  if (!(await page.isDisabled('#consent-submit'))) await fail(page, artifacts, 'consent recordable without the tick');
  await page.check('#consent-agree');
  await page.screenshot({ path: join(artifacts, 'clerk-consent.png'), fullPage: true });
  await page.click('#consent-submit');

  await page.waitForSelector('#face-step:not([hidden])');
  await page.waitForFunction(() => document.querySelector('#enrolled-count').textContent === '3', null, { timeout: 90000 });
  await page.screenshot({ path: join(artifacts, 'clerk-face.png'), fullPage: true });

  await page.waitForSelector('#dossier-step:not([hidden])');
  await page.fill('[name=code]', code);
  await page.fill('[name=procedure]', 'Đăng ký khai sinh');
  await page.fill('[name=due_at]', '2026-12-31');
  await page.click('#dossier-form button[type=submit]');
  await page.waitForSelector('#receipt-actions:not([hidden])');
  const href = await page.getAttribute('#receipt-link', 'href');
  const receipt = await ctx.newPage();
  await receipt.goto(`${base}${href}`);
  const body = await receipt.textContent('body');
  if (!body.includes(code) || !body.includes('Nguyễn Thị Ánh')) await fail(receipt, artifacts, 'receipt lacks code or name');
  const qrOk = await receipt.$eval('#qr', (img) => img.complete && img.naturalWidth > 100);
  if (!qrOk) await fail(receipt, artifacts, 'receipt QR image missing');
  await receipt.screenshot({ path: join(artifacts, 'clerk-receipt.png'), fullPage: true });
  if (errors.length) await fail(page, artifacts, `page errors: ${errors.join('; ')}`);
  console.log(`OK clerk desk: enrolled 3 frames, receipt for ${code}`);
} catch (e) {
  await fail(page, artifacts, e.stack || String(e));
} finally {
  await ctx.close();
}
