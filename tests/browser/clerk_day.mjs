// The clerk desk's promises (issue 26), at 1366×768 with a fake camera playing person Y:
// the desk in English shows what it drew from data in English too; a returning citizen (Y,
// registered without consent) consents and is photographed, then the desk is back on Y's
// page (not a new dossier); the office's overdue dossier gets the apology and a new date in
// two taps, and the letter opens for printing.
// Usage: node clerk_day.mjs BASE Y4M ARTIFACTS USER PASSWORD Y_CCCD OVERDUE_CODE
import { join } from 'node:path';
import { launch, fail, clerkSignIn } from './lib.mjs';

const [base, y4m, artifacts, user, password, yCccd, overdueCode] = process.argv.slice(2);
const ctx = await launch(y4m, { width: 1366, height: 768 });
const page = await ctx.newPage();
page.setDefaultTimeout(30000);
const errors = [];
page.on('pageerror', (e) => errors.push(e.message));
const shot = (name) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
const json = (path) => page.evaluate(async (p) => (await fetch(p)).json(), path);
try {
  await clerkSignIn(page, base, user, password);
  // The overdue list on the desk's first screen.
  await page.waitForSelector(`#overdue-list li[data-code="${overdueCode}"]`);
  await shot('desk-clerk-overdue');
  // Two taps: "apologise and reschedule" (the date proposed), then "save and print".
  const li = `#overdue-list li[data-code="${overdueCode}"]`;
  await page.click(`${li} button.apologise`);
  const proposed = await page.inputValue(`${li} input[type=date]`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(proposed)) await fail(page, artifacts, `no date proposed: ${proposed}`);
  const [letter] = await Promise.all([ctx.waitForEvent('page'), page.click(`${li} button.save`)]);
  await letter.waitForFunction(() => document.body && document.body.textContent.includes('Phiếu xin lỗi'), null, { timeout: 15000 });
  const text = await letter.textContent('body');
  const dmy = proposed.split('-').reverse().join('/');
  if (!text.includes(dmy) || !text.includes(overdueCode)) await fail(letter, artifacts, `letter lacks the new date ${dmy} or the code`);
  await letter.setViewportSize({ width: 1000, height: 1300 });
  await letter.screenshot({ path: join(artifacts, 'desk-apology-letter.png'), fullPage: true });
  await letter.close();
  await page.waitForSelector(li, { state: 'detached' });
  if (!(await page.textContent('#message')).includes('Đã ghi lời xin lỗi')) await fail(page, artifacts, 'apology not confirmed');
  const d = await json(`/api/v1/dossiers/${encodeURIComponent(overdueCode)}`);
  if (!d.moved_with_apology || d.overdue) await fail(page, artifacts, `not rescheduled: ${JSON.stringify(d)}`);

  // Y, registered without consent, found by CCCD; the desk in English.
  await page.fill('#search-q', yCccd);
  await page.click('#search-form button[type=submit]');
  await page.waitForSelector('#search-results li button');
  await page.click('#search-results li button');
  await page.waitForSelector('#person-step:not([hidden])');
  await page.click('#lang');
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  await page.waitForFunction(() => document.querySelector('#person-consent').textContent === 'No consent');
  const status = await page.textContent('#person-dossiers');
  if (/Được tiếp nhận|Đang xử lý/.test(status)) await fail(page, artifacts, `Vietnamese left on the English desk: ${status}`);
  await shot('desk-clerk-person-en');
  await page.click('#lang');
  await page.waitForFunction(() => document.querySelector('#person-consent').textContent === 'Chưa đồng ý' || document.documentElement.lang === 'vi');
  // Y consents now: consent, three frames, then back on Y's page.
  await page.click('#person-consent-start');
  await page.waitForSelector('#consent-step:not([hidden])');
  await page.check('#consent-agree');
  await page.click('#consent-submit');
  await page.waitForSelector('#face-step:not([hidden])');
  await page.waitForSelector('#person-step:not([hidden]), #dossier-step:not([hidden])', { timeout: 90000 });
  if (await page.isVisible('#dossier-step')) await fail(page, artifacts, 're-consent jumped to the new-dossier form');
  if (!(await page.textContent('#message')).includes('Đã ghi nhận đồng ý và chụp khuôn mặt')) await fail(page, artifacts, `message: ${await page.textContent('#message')}`);
  await shot('desk-clerk-reconsented');
  if (errors.length) await fail(page, artifacts, `page errors: ${errors.join('; ')}`);
  console.log(`OK clerk day: apology in two taps (new date ${dmy}), English desk, re-consent back to the person`);
} catch (e) {
  await fail(page, artifacts, e.stack || String(e));
} finally {
  await ctx.close();
}
