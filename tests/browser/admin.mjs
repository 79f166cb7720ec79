// The admin page in a real browser: sign in, withdraw one applicant's consent from the
// consent register (two clicks, no dialog), see the purge there and in the audit log, and
// set a clerk's new password, look at every tab.
// Usage: node admin.mjs BASE ARTIFACTS USER PASSWORD APPLICANT_ID NEW_CLERK_PASSWORD
import { join } from 'node:path';
import { launch, fail } from './lib.mjs';

const [base, artifacts, user, password, applicant, newClerkPassword] = process.argv.slice(2);
const ctx = await launch();
const page = await ctx.newPage();
page.setDefaultTimeout(20000);
const errors = [];
page.on('pageerror', (e) => errors.push(e.message));
page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
const shot = (name) => page.screenshot({ path: join(artifacts, `admin-${name}.png`), fullPage: true });
try {
  await page.goto(`${base}/admin/`);
  if ((await page.textContent('h1')) !== 'Hồ Sơ — Quản trị') await fail(page, artifacts, 'title not in Vietnamese');
  // Before signing in: no tabs, no "Đăng xuất"; a wrong password is named as such.
  if ((await page.isVisible('#logout')) || (await page.isVisible('#tabs'))) await fail(page, artifacts, 'logout or tabs shown before sign-in');
  await page.fill('input[name=username]', user);
  await page.fill('input[name=password]', 'sai-mat-khau-2026');
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#message:not([hidden])');
  const refused = await page.textContent('#message');
  if (!refused.includes('Sai tên đăng nhập hoặc mật khẩu') || refused.includes('Phiên')) await fail(page, artifacts, `wrong password message: ${refused}`);
  await shot('wrong-password');
  errors.splice(0); // the browser logs the refused sign-in's 401
  await page.fill('input[name=username]', user);
  await page.fill('input[name=password]', password);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#tab-stats:not([hidden]) .card');
  await shot('stats');

  await page.click('#tabs button[data-tab=consents]');
  const row = `#consents-table tr[data-applicant="${applicant}"]`;
  await page.waitForSelector(row);
  const before = await page.textContent(row);
  if (!before.includes('mẫu')) await fail(page, artifacts, `no face data shown before: ${before}`);
  await page.click(`${row} button.danger`);
  // The first click only arms the button.
  if (!(await page.textContent(`${row} button.danger`)).includes('xác nhận')) await fail(page, artifacts, 'no confirmation step');
  await page.click(`${row} button.danger`);
  await page.waitForSelector('#message.info:not([hidden])');
  const msg = await page.textContent('#message');
  if (!msg.includes('Đã rút đồng ý')) await fail(page, artifacts, `message: ${msg}`);
  await page.waitForFunction((sel) => document.querySelector(sel)?.textContent.includes('Đã xoá lúc'), row);
  await shot('withdrawn');

  await page.click('#tabs button[data-tab=audit]');
  await page.waitForSelector('#audit-table tr[data-id]');
  const chain = await page.textContent('#audit-chain');
  if (!chain.includes('nguyên vẹn')) await fail(page, artifacts, `audit chain: ${chain}`);
  const log = await page.textContent('#audit-table');
  if (!log.includes('consent.withdraw') || !log.includes(`applicant:${applicant}`)) await fail(page, artifacts, 'withdrawal not in the audit log');
  await shot('audit');
  // A clerk's new password, set from the accounts tab.
  await page.click('#tabs button[data-tab=users]');
  const clerkRow = '#users-table tr:has-text("clerk1")';
  await page.click(`${clerkRow} button:has-text("Đặt mật khẩu mới")`);
  await page.fill(`${clerkRow} input.new-password`, newClerkPassword);
  await page.click(`${clerkRow} button:has-text("Lưu")`);
  await page.waitForSelector('#message.info:not([hidden])');
  if (!(await page.textContent('#message')).includes('Đã đặt mật khẩu mới')) await fail(page, artifacts, 'password not reset');
  for (const tab of ['requests', 'users', 'devices', 'settings']) {
    await page.click(`#tabs button[data-tab=${tab}]`);
    await page.waitForSelector(`#tab-${tab}:not([hidden]) table, #tab-${tab}:not([hidden]) .empty`);
  }
  if ((await page.inputValue('input[name=retention_grace_days]')) !== '7') await fail(page, artifacts, 'grace days not shown');
  // Saving with the calibrated values shown (4 decimals) works: only the grace days change.
  await page.fill('input[name=retention_grace_days]', '9');
  await page.click('#settings-form button[type=submit]');
  await page.waitForSelector('#message.info:not([hidden])');
  const saved = await page.evaluate(async () => (await fetch('/api/v1/admin/settings')).json());
  if (saved.retention_grace_days !== 9 || saved.kiosk_threshold !== null) await fail(page, artifacts, `settings not saved: ${JSON.stringify(saved)}`);
  await shot('settings');
  await page.click('#lang');
  await page.waitForFunction(() => document.querySelector('h1').textContent === 'Hồ Sơ — Administration');
  if (errors.length) await fail(page, artifacts, `page errors: ${errors.join('; ')}`);
  console.log('OK admin withdrawal');
} catch (e) {
  await fail(page, artifacts, e.stack || String(e));
} finally {
  await ctx.close();
}
