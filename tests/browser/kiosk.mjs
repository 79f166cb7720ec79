// The lobby kiosk in a real browser with a fake camera.
// Usage: node kiosk.mjs BASE TOKEN VIDEO.y4m ARTIFACTS SCENARIO [ARGS…]
//   TOKEN "pair:CODE" opens the page with a one-time setup code instead of the token
//   face NAME CODE      → the result shows NAME and dossier CODE
//   fallback            → "không nhận diện được" and the fallbacks, no dossier
//   live NAME CODE      → a live person's visit reaches the result with no challenge
//   attack              → a printed photo gets the fallbacks, never a dossier
//   qr CODE             → the receipt QR shown to the camera opens dossier CODE
//   keypad CODE DIGITS  → right digits open the dossier; wrong ones fail; then lockout
import { join } from 'node:path';
import { launch, fail } from './lib.mjs';

const [base, token, y4m, artifacts, scenario, ...args] = process.argv.slice(2);
const ctx = await launch(y4m);
const page = await ctx.newPage();
page.setDefaultTimeout(40000);
const errors = [];
page.on('pageerror', (e) => errors.push(e.message));
const shot = (name) => page.screenshot({ path: join(artifacts, `kiosk-${name}.png`), fullPage: true });
try {
  const auth = token.startsWith('pair:')
    ? `pair=${encodeURIComponent(token.slice(5))}`
    : `token=${encodeURIComponent(token)}`;
  await page.goto(`${base}/kiosk/#${auth}`);
  await page.waitForSelector('body[data-ready="1"] #idle:not([hidden])');
  if (page.url().includes('pair=')) await fail(page, artifacts, 'setup code left in the address bar');
  // Remember whether the head-turn challenge was ever shown.
  await page.evaluate(() => {
    window.sawChallenge = false;
    const el = document.querySelector('#challenge');
    new MutationObserver(() => { if (!el.hidden) window.sawChallenge = true; })
      .observe(el, { attributes: true, attributeFilter: ['hidden'] });
  });
  if (page.url().includes('token=')) await fail(page, artifacts, 'token left in the address bar');
  if (scenario === 'face' || scenario === 'qr') {
    const code = scenario === 'face' ? args[1] : args[0];
    await page.waitForSelector('#result:not([hidden])');
    const name = await page.textContent('#name');
    if (scenario === 'face' && name !== args[0]) await fail(page, artifacts, `shown name ${name}, expected ${args[0]}`);
    const codes = await page.$$eval('.dossier', (ds) => ds.map((d) => d.dataset.code));
    if (!codes.includes(code)) await fail(page, artifacts, `dossier ${code} not shown: ${codes}`);
    const status = await page.textContent(`.dossier[data-code="${code}"] .status`);
    const next = await page.textContent(`.dossier[data-code="${code}"] .next`);
    if (!status || !next.includes('Việc cần làm')) await fail(page, artifacts, 'status or next action missing');
    await shot(scenario);
    if (scenario === 'face') {
      // The same face stays in front of the camera: the result stays up.
      await page.waitForTimeout(2500);
      if (await page.isHidden('#result')) await fail(page, artifacts, 'result cleared while the person was still there');
    }
    await page.click('#stars button:nth-child(5)');
    await page.waitForSelector('#thanks:not([hidden])');
    await page.click('#done');
    await page.waitForSelector('#idle:not([hidden])');
    console.log(`OK ${scenario}: ${name} — ${codes.join(', ')} — ${status}`);
  } else if (scenario === 'live') {
    // A live person of an enrolled subject: the passive check is confident over the visit,
    // so the result comes without a challenge.
    const [name, code] = args;
    await page.waitForSelector('#result:not([hidden])');
    const shown = await page.textContent('#name');
    if (shown !== name) await fail(page, artifacts, `shown name ${shown}, expected ${name}`);
    if (!(await page.$(`.dossier[data-code="${code}"]`))) await fail(page, artifacts, `dossier ${code} not shown`);
    if (await page.evaluate(() => window.sawChallenge)) await fail(page, artifacts, 'a challenge was asked of a confidently live visit');
    await shot('live-no-challenge');
    console.log(`OK live: ${shown} without a challenge`);
  } else if (scenario === 'attack') {
    // A printed photo of an enrolled person: the passive check refuses it (or, in doubt, the
    // challenge a photo cannot pass); the kiosk offers the fallbacks, never a dossier.
    await page.waitForSelector('#fallback:not([hidden])');
    const reason = await page.textContent('#fallback-reason');
    if (!reason.includes('chưa xác nhận')) await fail(page, artifacts, `fallback reason: ${reason}`);
    if ((await page.$$('.dossier')).length || !(await page.isHidden('#result'))) await fail(page, artifacts, 'a dossier was shown');
    await shot('attack-fallback');
    // The photo stays in front of the camera: still no dossier, the fallbacks stay, and no
    // new challenge starts.
    await page.evaluate(() => { window.sawChallenge = false; });
    await page.waitForTimeout(6000);
    if ((await page.$$('.dossier')).length || !(await page.isHidden('#result'))) await fail(page, artifacts, 'a dossier was shown later');
    if (await page.evaluate(() => window.sawChallenge) || (await page.isHidden('#fallback'))) await fail(page, artifacts, 'the fallbacks gave way to a new challenge');
    console.log(`OK attack: fallback, challenge shown: ${await page.evaluate(() => window.sawChallenge)}`);
  } else if (scenario === 'fallback') {
    await page.waitForSelector('#fallback:not([hidden])');
    const text = await page.textContent('#fallback');
    if (!text.includes('Chưa tìm thấy hồ sơ')) await fail(page, artifacts, 'no "chưa tìm thấy hồ sơ"');
    if ((await page.$$('.dossier')).length) await fail(page, artifacts, 'a dossier was shown');
    if (!(await page.isVisible('#show-qr')) || !(await page.isVisible('#to-keypad'))) await fail(page, artifacts, 'fallbacks not offered');
    await shot(`fallback-${args[0] || 'stranger'}`);
    console.log('OK fallback');
  } else if (scenario === 'keypad') {
    const [code, digits] = args;
    await page.click('#to-keypad-idle');
    await page.fill('#code', code);
    await page.click('#digits');
    for (const d of digits) await page.click(`#digit-keys button:text-is("${d}")`);
    await shot('keypad');
    await page.click('#lookup');
    await page.waitForSelector('#result:not([hidden])');
    if (!(await page.$(`.dossier[data-code="${code}"]`))) await fail(page, artifacts, 'keypad lookup did not show the dossier');
    await page.click('#done');
    await page.click('#to-keypad-idle');
    for (let i = 0; i < 5; i++) {
      await page.fill('#code', code); await page.fill('#digits', '0000');
      await page.click('#lookup');
      await page.waitForFunction(() => document.querySelector('#keypad-error').textContent.length > 0);
      await page.evaluate(() => { document.querySelector('#keypad-error').textContent = ''; });
    }
    await page.fill('#digits', digits);
    await page.click('#lookup');
    await page.waitForFunction(() => document.querySelector('#keypad-error').textContent.includes('tạm khoá'));
    await shot('lockout');
    console.log('OK keypad and lockout');
  } else {
    await fail(page, artifacts, `unknown scenario ${scenario}`);
  }
  if (errors.length) await fail(page, artifacts, `page errors: ${errors.join('; ')}`);
} catch (e) {
  await fail(page, artifacts, e.stack || String(e));
} finally {
  await ctx.close();
}
