// "Gọi cán bộ hỗ trợ": a citizen taps it at the kiosk; the clerk desk, open in another
// window, shows the request with the kiosk's name within 2 s, chimes and blinks its title,
// and answers it; the kiosk then says staff are coming, until the visit ends.
// Usage: node help.mjs BASE KIOSK_TOKEN VIDEO.y4m ARTIFACTS CLERK PASSWORD KIOSK_NAME
import { join } from 'node:path';
import { launch, fail, clerkSignIn } from './lib.mjs';

const [base, token, y4m, artifacts, user, password, kioskName] = process.argv.slice(2);
const ctx = await launch(y4m, { width: 1366, height: 768 });
const desk = await ctx.newPage();
const kiosk = await ctx.newPage();
desk.setDefaultTimeout(30000); kiosk.setDefaultTimeout(30000);
const errors = [];
for (const p of [desk, kiosk]) p.on('pageerror', (e) => errors.push(e.message));
try {
  await clerkSignIn(desk, base, user, password);
  await kiosk.goto(`${base}/kiosk/#token=${encodeURIComponent(token)}`);
  await kiosk.waitForSelector('body[data-ready="1"] #idle:not([hidden])');
  await kiosk.waitForTimeout(500);
  const t0 = Date.now();
  await kiosk.click('#help');
  await kiosk.waitForSelector('#help-status:not([hidden])');
  const said = await kiosk.textContent('#help-status');
  if (!said.includes('Đã báo cán bộ')) await fail(kiosk, artifacts, `kiosk says: ${said}`);
  await desk.waitForSelector('#help-calls:not([hidden]) li', { timeout: 2000 });
  const ms = Date.now() - t0;
  const text = await desk.textContent('#help-list');
  if (!text.includes(kioskName)) await fail(desk, artifacts, `desk shows: ${text}`);
  // Heard and seen: a chime, and the tab's title blinking with the call.
  await desk.waitForFunction(() => Number(document.body.dataset.chimes || 0) >= 1, null, { timeout: 3000 });
  await desk.waitForFunction(() => /Kiosk cần hỗ trợ/.test(document.title), null, { timeout: 3000 });
  await desk.screenshot({ path: join(artifacts, 'clerk-help-call.png') });
  await kiosk.screenshot({ path: join(artifacts, 'kiosk-help-called.png') });
  await desk.click('#help-list li button');
  await desk.waitForSelector('#help-calls', { state: 'hidden' });
  await desk.waitForFunction(() => !/Kiosk cần hỗ trợ/.test(document.title), null, { timeout: 3000 });
  // The kiosk learns the clerk is on the way.
  await kiosk.waitForFunction(() => document.querySelector('#help-status').textContent.includes('Cán bộ đang đến'), null, { timeout: 6000 });
  await kiosk.screenshot({ path: join(artifacts, 'kiosk-help-coming.png') });
  await kiosk.waitForTimeout(2500);
  if (!(await kiosk.isVisible('#help-status'))) await fail(kiosk, artifacts, 'the kiosk stopped saying staff are coming');
  if (errors.length) await fail(desk, artifacts, `page errors: ${errors.join('; ')}`);
  console.log(`OK help: on the clerk desk in ${ms} ms`);
} catch (e) {
  await fail(desk, artifacts, e.stack || String(e));
} finally {
  await ctx.close();
}
