// The admin page in a real browser at 1366×768: sign in; statistics drawn as SVG charts
// with nothing fetched from outside, and their CSV; the consent register with a person's
// templates described and the full name revealed on request; withdraw one applicant's
// consent (two clicks, no dialog), see the purge there and in the audit log read as
// sentences (raw entry on demand); a clerk's new password and display name; a kiosk's
// setup link with its QR code; settings saved; a screenshot of every tab.
// Usage: node admin.mjs BASE ARTIFACTS USER PASSWORD APPLICANT_ID NEW_CLERK_PASSWORD FULL_NAME
import { deskPage, fail } from './lib.mjs';

const [base, artifacts, user, password, applicant, newClerkPassword, fullName] = process.argv.slice(2);
const { ctx, page, errors, shot } = await deskPage(artifacts, 'admin-');
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
  // Charts drawn here as SVG (a face look-up from the kiosk is in them), nothing external.
  await page.waitForSelector('#chart-methods svg rect[data-series]');
  for (const id of ['chart-ontime', 'chart-ratings', 'chart-kiosks']) {
    if (!(await page.$(`#${id} svg`))) await fail(page, artifacts, `no chart in #${id}`);
  }
  const external = await page.evaluate(() => [
    ...performance.getEntriesByType('resource').map((e) => e.name),
    ...[...document.querySelectorAll('[src],[href]')].map((e) => e.src || e.href),
  ].filter((u) => u && !u.startsWith(location.origin) && !u.startsWith('data:')));
  if (external.length) await fail(page, artifacts, `external URLs: ${external}`);
  const csv = await page.evaluate(async () => (await fetch(document.querySelector('#stats-csv').href)).text());
  if (!csv.startsWith('day,kiosk,face,qr,keypad,unresolved,total') || !csv.includes('Sảnh 1')) await fail(page, artifacts, `CSV: ${csv}`);
  await shot('stats');

  await page.click('#tabs button[data-tab=consents]');
  const row = `#consents-table tr[data-applicant="${applicant}"]`;
  await page.waitForSelector(row);
  const before = await page.textContent(row);
  if (!before.includes('mẫu')) await fail(page, artifacts, `no face data shown before: ${before}`);
  if (before.includes(fullName)) await fail(page, artifacts, 'full name shown before it was asked for');
  // The person's templates, described (no images), and the full name on request.
  await page.click(`${row} button:has-text("Mẫu khuôn mặt")`);
  await page.waitForSelector('#person-detail:not([hidden]) tr[data-id]');
  const detail = await page.textContent('#person-detail');
  if (!detail.includes('2 mẫu') || !detail.includes('đang dùng') || !detail.includes('clerk1')) await fail(page, artifacts, `person detail: ${detail}`);
  await page.click(`${row} button:has-text("Hiện họ tên")`);
  await page.waitForFunction(([sel, n]) => document.querySelector(sel)?.textContent.includes(n), [`${row} .name`, fullName]);
  await shot('consents');
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
  // Entries read as sentences; the raw entry is one click away.
  const sentence = `rút đồng ý`;
  const wrow = `#audit-table tr:has-text("${sentence}")`;
  await page.waitForSelector(wrow);
  const said = await page.textContent(`${wrow} td:nth-child(2)`);
  if (!said.includes(`người nộp #${applicant}`) || said.includes('consent.withdraw')) await fail(page, artifacts, `not a sentence: ${said}`);
  if (!(await page.textContent('#audit-table')).includes(`xem họ tên đầy đủ của người nộp #${applicant}`)) await fail(page, artifacts, 'the name reveal is not in the audit log');
  await page.click(`${wrow} summary`);
  if (!(await page.textContent(`${wrow} pre`)).includes('consent.withdraw')) await fail(page, artifacts, 'raw entry not shown on demand');
  const heads = await page.$$eval('#audit-table th', (ths) => ths.map((th) => th.textContent));
  if (heads.filter((h) => h === 'Hoạt động').length > 1) await fail(page, artifacts, `two columns named alike: ${heads}`);
  await shot('audit');
  // A clerk's new password, set from the accounts tab.
  await page.click('#tabs button[data-tab=users]');
  const clerkRow = '#users-table tr:has-text("clerk1")';
  await page.click(`${clerkRow} button:has-text("Đặt mật khẩu mới")`);
  await page.fill(`${clerkRow} input.new-password`, newClerkPassword);
  await page.click(`${clerkRow} button:has-text("Lưu")`);
  await page.waitForSelector('#message.info:not([hidden])');
  if (!(await page.textContent('#message')).includes('Đã đặt mật khẩu mới')) await fail(page, artifacts, 'password not reset');
  // … and the name printed on the receipts this clerk signs.
  await page.click(`${clerkRow} button:has-text("Đổi họ tên")`);
  await page.fill(`${clerkRow} input.display-name`, 'Nguyễn Thị Lan');
  await page.click(`${clerkRow} button:has-text("Lưu")`);
  await page.waitForSelector('#users-table tr:has-text("Nguyễn Thị Lan")');
  await shot('users');
  // A new kiosk comes with its setup link and a QR code of it.
  await page.click('#tabs button[data-tab=devices]');
  await page.fill('#device-form [name=name]', 'Kiosk tầng 2');
  await page.click('#device-form button[type=submit]');
  await page.waitForSelector('#device-setup:not([hidden])');
  const command = await page.textContent('#device-command');
  if (!command.startsWith('sudo hoso-kiosk-setup ') || !command.includes('/kiosk/#pair=')) await fail(page, artifacts, `setup command: ${command}`);
  await page.waitForFunction(() => document.querySelector('#device-qr').complete && document.querySelector('#device-qr').naturalWidth > 100);
  await shot('devices');
  for (const tab of ['requests', 'users', 'devices', 'settings']) {
    await page.click(`#tabs button[data-tab=${tab}]`);
    await page.waitForSelector(`#tab-${tab}:not([hidden]) table, #tab-${tab}:not([hidden]) .empty`);
    if (tab === 'requests') await shot('requests');
  }
  if ((await page.inputValue('input[name=retention_grace_days]')) !== '7') await fail(page, artifacts, 'grace days not shown');
  // The recognition settings: at most 3 decimals, each said in words against calibration.
  const shown = await page.inputValue('input[name=kiosk_threshold]');
  if (shown && !/^\d+(\.\d{1,3})?$/.test(shown)) await fail(page, artifacts, `raw threshold shown: ${shown}`);
  const words = await page.textContent('#threshold-words');
  if (shown && !words.includes('hiệu chuẩn')) await fail(page, artifacts, `threshold not in words: "${words}"`);
  if (!(await page.textContent('#tab-settings')).includes('Cao hơn: ít nhận nhầm hơn')) await fail(page, artifacts, 'the threshold is not explained');
  if (shown) {
    await page.fill('input[name=kiosk_threshold]', String(Number(shown) + 0.05));
    if (!(await page.textContent('#threshold-words')).startsWith('Chặt hơn')) await fail(page, artifacts, `a higher threshold not said stricter: ${await page.textContent('#threshold-words')}`);
    await page.fill('input[name=kiosk_threshold]', shown);
  }
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
