// The clerk desk on a real office day, at 1366×768 with a fake camera playing person X:
// a returning citizen (X, registered earlier) found by CCCD → a new dossier with its
// documents → the receipt (dd/mm/yyyy, clerk's name, documents, kiosk help, Print prints);
// X's face re-enrolled (old templates replaced); a new applicant whose consent is printed
// before it is recorded, whose face matches X → duplicate warning → other record viewed
// masked → "same person": X's record opens and the new record's consent and face are gone;
// X withdraws consent at the desk. Messages stay in one language. The receipt's time is
// the server's, in Vietnam time.
// Usage: node desk.mjs BASE Y4M ARTIFACTS USER PASSWORD X_CCCD NEW_CODE NEW_CCCD
import { join } from 'node:path';
import { launch, fail, clerkSignIn } from './lib.mjs';

const [base, y4m, artifacts, user, password, xCccd, newCode, newCccd] = process.argv.slice(2);
const ctx = await launch(y4m, { width: 1366, height: 768 });
const page = await ctx.newPage();
page.setDefaultTimeout(30000);
const errors = [];
page.on('pageerror', (e) => errors.push(e.message));
const shot = (name) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
const json = (path) => page.evaluate(async (p) => (await fetch(p)).json(), path);
try {
  await clerkSignIn(page, base, user, password);
  await shot('desk-clerk-start');

  // One language per message: a bad ID number is named in Vietnamese only.
  await page.fill('#applicant-form [name=full_name]', 'Người Thử');
  await page.fill('#applicant-form [name=id_number]', '003099012345');
  await page.click('#applicant-form button[type=submit]');
  await page.waitForSelector('#message:not([hidden])');
  const bad = await page.textContent('#message');
  if (!bad.startsWith('Dữ liệu chưa đúng: Số CCCD') || /must|ID number/.test(bad)) await fail(page, artifacts, `mixed or unclear message: ${bad}`);
  // Registering X again opens X instead of failing.
  await page.fill('#applicant-form [name=full_name]', 'Hoàng Văn Nam');
  await page.fill('#applicant-form [name=id_number]', xCccd);
  await page.click('#applicant-form button[type=submit]');
  await page.waitForSelector('#person-step:not([hidden])');
  if (!(await page.textContent('#message')).includes('đã đăng ký')) await fail(page, artifacts, 'no "already registered" message');

  // 1. The returning citizen found by CCCD.
  await page.click('#person-close');
  await page.fill('#search-q', xCccd);
  await page.click('#search-form button[type=submit]');
  await page.waitForSelector('#search-results li button');
  await shot('desk-clerk-search');
  await page.click('#search-results li button');
  await page.waitForSelector('#person-step:not([hidden])');
  const xid = Number(await page.evaluate(() => document.querySelector('#search-results li').dataset.applicant));
  const facts = await page.textContent('#person-face');
  if (!/2 mẫu/.test(facts)) await fail(page, artifacts, `templates not described: ${facts}`);
  await shot('desk-clerk-person');
  // … a new dossier with its documents → receipt.
  await page.click('#person-new-dossier');
  await page.waitForSelector('#dossier-step:not([hidden])');
  await page.fill('[name=code]', newCode);
  await page.fill('[name=procedure]', 'Cấp bản sao trích lục khai sinh');
  if (await page.$('[name=received_at]')) await fail(page, artifacts, 'the receipt time is typed from the desk PC');
  const vn = (d) => d.toLocaleDateString('en-CA', { timeZone: 'Asia/Ho_Chi_Minh' });
  const today = vn(new Date());
  const due = vn(new Date(Date.now() + 7 * 86400000));
  await page.fill('[name=due_at]', due);
  await page.fill('[name=documents]', 'Tờ khai cấp bản sao trích lục\nBản sao CCCD');
  await page.click('#dossier-form button[type=submit]');
  await page.waitForSelector('#receipt-actions:not([hidden])');
  const receipt = await ctx.newPage();
  await receipt.setViewportSize({ width: 1366, height: 768 });
  await receipt.goto(`${base}${await page.getAttribute('#receipt-link', 'href')}`);
  const body = await receipt.textContent('body');
  const dmy = (iso) => iso.split('-').reverse().join('/');
  for (const want of [`phút, ngày ${dmy(today)}`, `ngày ${dmy(due)}`, 'Tờ khai cấp bản sao trích lục', 'Bản sao CCCD', 'Nguyễn Thị Lan', '4 số cuối thẻ căn cước', 'Hoàng Văn Nam', newCode]) {
    if (!body.includes(want)) await fail(receipt, artifacts, `receipt lacks ${want}`);
  }
  await receipt.evaluate(() => { window.printed = 0; window.print = () => { window.printed += 1; }; });
  await receipt.click('#print');
  if ((await receipt.evaluate(() => window.printed)) !== 1) await fail(receipt, artifacts, 'Print button does not print');
  await receipt.screenshot({ path: join(artifacts, 'desk-receipt.png'), fullPage: true });
  await receipt.close();

  // 2. Re-enrolment: three new frames replace the old templates.
  const before = (await json(`/api/v1/applicants/${xid}`)).template_info.map((t) => t.id);
  await page.click('#back-to-person');
  await page.waitForSelector('#person-step:not([hidden])');
  await page.click('#person-reenrol');
  await page.waitForSelector('#face-step:not([hidden])');
  await page.waitForSelector('#person-step:not([hidden])', { timeout: 90000 });
  const msg = await page.textContent('#message');
  if (!msg.includes('Đã thay mẫu khuôn mặt (xoá 2 mẫu cũ)')) await fail(page, artifacts, `re-enrolment message: ${msg}`);
  const after = (await json(`/api/v1/applicants/${xid}`)).template_info.map((t) => t.id);
  if (after.length !== 3 || after.some((id) => before.includes(id))) await fail(page, artifacts, `templates not replaced: ${before} → ${after}`);
  await shot('desk-clerk-reenrolled');

  // 3. A new applicant: the consent form is printed before the consent can be recorded.
  await page.click('#person-close');
  await page.fill('#applicant-form [name=full_name]', 'Lý Thị Mai');
  await page.fill('#applicant-form [name=id_number]', newCccd);
  await page.click('#applicant-form button[type=submit]');
  await page.waitForSelector('#consent-step:not([hidden])');
  await page.selectOption('#consent-form [name=method]', 'signature');
  await page.check('#consent-agree');
  if (!(await page.isDisabled('#consent-submit'))) await fail(page, artifacts, 'a signature consent is recordable before the form is printed');
  const [form] = await Promise.all([ctx.waitForEvent('page'), page.click('#consent-print')]);
  await form.waitForLoadState();
  const formText = await form.textContent('body');
  if (!formText.includes('Bản để ký') || !formText.includes('Lý Thị Mai')) await fail(form, artifacts, 'the printed form is not the one to sign');
  await form.screenshot({ path: join(artifacts, 'desk-consent-form.png'), fullPage: true });
  await form.close();
  if (await page.isDisabled('#consent-submit')) await fail(page, artifacts, 'consent not recordable after printing');
  await shot('desk-clerk-consent');
  await page.click('#consent-submit');
  // … the face is X's: duplicate warning → view the other record, masked → discard.
  await page.waitForSelector('#duplicate:not([hidden])', { timeout: 90000 });
  await page.click('#dup-view');
  await page.waitForSelector('#duplicate-other:not([hidden])');
  const other = await page.textContent('#duplicate-other');
  if (!other.includes('Hoàng V. N***') || other.includes('Nam')) await fail(page, artifacts, `other record not masked: ${other}`);
  await shot('desk-clerk-duplicate');
  // The same person registered twice (a typo in the ID): open the registered record.
  await page.click('#dup-existing');
  await page.waitForSelector('#person-step:not([hidden])');
  if ((await page.textContent('#person-name')) !== 'Hoàng Văn Nam') await fail(page, artifacts, `opened ${await page.textContent('#person-name')}`);
  if (!(await page.textContent('#message')).includes('Đã mở hồ sơ đã đăng ký')) await fail(page, artifacts, 'use-existing not confirmed');
  const mai = (await json(`/api/v1/applicants?q=${newCccd}`))[0];
  if (!mai || mai.templates !== 0 || mai.consent) await fail(page, artifacts, `the duplicate keeps consent or templates: ${JSON.stringify(mai)}`);

  // 4. X withdraws consent at the desk.
  await page.click('#person-close');
  await page.fill('#search-q', 'hoang van nam');
  await page.click('#search-form button[type=submit]');
  await page.waitForSelector(`#search-results li[data-applicant="${xid}"] button`);
  await page.click(`#search-results li[data-applicant="${xid}"] button`);
  await page.waitForSelector('#person-step:not([hidden])');
  await page.click('#person-withdraw');
  await page.waitForSelector('#withdraw-confirm:not([hidden])');
  await shot('desk-clerk-withdraw');
  await page.click('#withdraw-yes');
  await page.waitForFunction(() => document.querySelector('#person-consent').textContent.includes('Đã rút đồng ý'));
  if (!(await page.textContent('#message')).includes('xoá 3 mẫu')) await fail(page, artifacts, 'withdrawal not confirmed');
  if (errors.length) await fail(page, artifacts, `page errors: ${errors.join('; ')}`);
  console.log(`OK desk: returning ${xid}, receipt ${newCode}, re-enrolled, duplicate resolved on the registered record, withdrawn`);
} catch (e) {
  await fail(page, artifacts, e.stack || String(e));
} finally {
  await ctx.close();
}
