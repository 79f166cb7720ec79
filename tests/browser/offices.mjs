// The admin page with two offices, at 1366×768: an office's admin sees her office's name,
// its accounts only, no settings/backups tab and no retention run; the province admin sees
// "Toàn tỉnh", an office column and an office choice, and issues a kiosk for the other
// office from the page.
// Usage: node offices.mjs BASE ARTIFACTS PASSWORD OFFICE_B_NAME
import { deskPage, fail } from './lib.mjs';

const [base, artifacts, password, officeB] = process.argv.slice(2);
const { ctx, page, errors, shot } = await deskPage(artifacts, 'offices-');
async function signIn(user) {
  await page.goto(`${base}/admin/`);
  await page.fill('input[name=username]', user);
  await page.fill('input[name=password]', password);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#tab-stats:not([hidden]) .card');
}
try {
  await signIn('admin_a');
  const label = await page.textContent('#office-label');
  if (!(await page.isVisible('#office-label')) || !label.includes('Bộ phận Tiếp nhận')) await fail(page, artifacts, `office label: ${label}`);
  if (await page.isVisible('#tabs button[data-tab=settings]')) await fail(page, artifacts, 'settings tab shown to an office admin');
  await page.click('#tabs button[data-tab=consents]');
  await page.waitForSelector('#consents-table table');
  if (await page.isVisible('#retention')) await fail(page, artifacts, 'retention shown to an office admin');
  await page.click('#tabs button[data-tab=users]');
  await page.waitForSelector('#users-table table');
  const users = await page.textContent('#users-table');
  if (!users.includes('clerk_a') || users.includes('clerk_b')) await fail(page, artifacts, `users: ${users}`);
  if (await page.isVisible('#user-form select[name=office]')) await fail(page, artifacts, 'office choice shown to an office admin');
  await shot('office-admin');
  if (errors.length) await fail(page, artifacts, `console errors: ${errors}`);
  await page.click('#logout');

  await signIn('province');
  if ((await page.textContent('#office-label')) !== 'Toàn tỉnh') await fail(page, artifacts, 'no "Toàn tỉnh" for the province admin');
  if (!(await page.isVisible('#tabs button[data-tab=settings]'))) await fail(page, artifacts, 'no settings tab for the province admin');
  await page.click('#tabs button[data-tab=devices]');
  await page.waitForSelector('#devices-table table');
  await page.fill('#device-form [name=name]', 'Sảnh B2');
  await page.selectOption('#device-form select[name=office]', { label: officeB });
  await page.click('#device-form button[type=submit]');
  await page.waitForSelector('#device-setup:not([hidden])');
  await page.waitForSelector('#devices-table tr:has-text("Sảnh B2")');
  const row = await page.textContent('#devices-table tr:has-text("Sảnh B2")');
  if (!row.includes(officeB)) await fail(page, artifacts, `new kiosk's office: ${row}`);
  await shot('province');
  if (errors.length) await fail(page, artifacts, `console errors: ${errors}`);
  console.log('OK offices');
} catch (e) {
  await fail(page, artifacts, e.stack || String(e));
} finally {
  await ctx.close();
}
