// A citizen's visit at the kiosk, at a kiosk's real screen sizes, with a fake camera.
// Usage: node visit.mjs BASE TOKEN VIDEO.y4m ARTIFACTS ORIENT SCENARIO [ARGS…]
//   ORIENT portrait (1080×1920) | landscape (1920×1080)
//   tour NAME URGENT_CODE   → a face with 4 dossiers: the result fits (first three dossiers,
//                             rating, "Xong" on screen), most urgent first, paged; read-aloud
//                             plays audio; English shows English timelines; every screen is
//                             photographed; an abandoned keypad entry is wiped (language too)
//   stranger                → one calm fallback screen, no challenge, back to the start
//                             after the inactivity timeout, not asked again while still there
//   limits A DA B DB C      → 5 wrong tries lock code A, not the kiosk: B goes through;
//                             interleaving B's right look-up does not give C more tries
//   qrbutton CODE           → the QR button opens the receipt mode; the receipt is read
//   startqr CODE            → a receipt held up over a face on the start screen is read
//                             within 2 s of the camera's first frame, no fallback first
//   receiptstays CODE       → a receipt held up with no face: one result, which stays while
//                             the receipt is held (past the inactivity time), no loop
//   confirm DIGITS NAME     → the face is plausible but not sure at this gallery size: the
//                             big 2-digit pad shows (photographed), typing DIGITS shows
//                             NAME's result; with DIGITS "xx"+"!" (e.g. "00!") a wrong
//                             answer must end on the fallback screen, no result
//   lookup CODE DIGITS      → the keypad finds the dossier (TOKEN "url:<link>" opens a link,
//                             e.g. the demo's printed kiosk link, instead of a token)
import { join } from 'node:path';
import { launch, fail } from './lib.mjs';

const [base, token, y4m, artifacts, orient, scenario, ...args] = process.argv.slice(2);
const viewport = orient === 'portrait' ? { width: 1080, height: 1920 } : { width: 1920, height: 1080 };
const ctx = await launch(y4m, viewport);
const page = await ctx.newPage();
page.setDefaultTimeout(40000);
const errors = [];
page.on('pageerror', (e) => errors.push(e.message));
const shot = (name) => page.screenshot({ path: join(artifacts, `kiosk-${orient}-${name}.png`) });
const visible = (sel) => page.isVisible(sel);

// Every element of `sels` is wholly inside the viewport.
async function fits(sels) {
  const out = await page.evaluate((ss) => ss.flatMap((s) => [...document.querySelectorAll(s)].map((e) => {
    const r = e.getBoundingClientRect();
    return { s, bottom: Math.round(r.bottom), right: Math.round(r.right), h: innerHeight, w: innerWidth, shown: r.height > 0 };
  })), sels);
  const bad = out.filter((o) => !o.shown || o.bottom > o.h || o.right > o.w);
  if (bad.length) await fail(page, artifacts, `below or beside the screen at ${orient}: ${JSON.stringify(bad)}`);
  return out.length;
}

// Counts how often each screen is entered.
async function countScreens() {
  await page.evaluate(() => {
    window.entered = {};
    window.sawChallenge = false;
    const obs = new MutationObserver(() => {
      const m = document.body.dataset.mode;
      if (m !== window.lastMode) { window.entered[m] = (window.entered[m] || 0) + 1; window.lastMode = m; }
      if (!document.querySelector('#challenge').hidden) window.sawChallenge = true;
    });
    obs.observe(document.body, { attributes: true, subtree: true, attributeFilter: ['data-mode', 'hidden'] });
  });
}

async function keypadTry(code, digits) {
  await page.fill('#code', code);
  await page.click('#digits');
  await page.fill('#digits', '');
  for (const d of digits) await page.click(`#digit-keys button:text-is("${d}")`);
  await page.evaluate(() => { document.querySelector('#keypad-error').textContent = ''; });
  await page.click('#lookup');
  await page.waitForFunction(() => !document.querySelector('#result').hidden || document.querySelector('#keypad-error').textContent.length > 0);
  if (await visible('#result')) return 'ok';
  const msg = await page.textContent('#keypad-error');
  const wait = msg.match(/chờ (\d+) giây/);
  if (wait) { await page.waitForTimeout(Number(wait[1]) * 1000 + 300); return keypadTry(code, digits); }
  return msg;
}

try {
  await page.goto(token.startsWith('url:') ? token.slice(4) : `${base}/kiosk/#token=${encodeURIComponent(token)}`);
  await page.waitForSelector('body[data-ready="1"] #idle:not([hidden])');
  await countScreens();
  if (scenario === 'tour') {
    const [name, urgent] = args;
    await page.waitForSelector('#result:not([hidden])');
    if ((await page.textContent('#name')) !== name) await fail(page, artifacts, `greeting ${await page.textContent('#name')}`);
    if ((await page.textContent('.greeting')).includes('*')) await fail(page, artifacts, 'asterisks in the greeting');
    const codes = await page.$$eval('.dossier', (ds) => ds.map((d) => d.dataset.code));
    if (codes.length !== 3 || codes[0] !== urgent) await fail(page, artifacts, `first page ${codes}, most urgent ${urgent} first`);
    await fits(['.dossier', '#stars', '#done', '#pager']);
    // The countdown back to the start never covers the result's buttons.
    await page.waitForFunction(() => document.querySelector('#returning').textContent.length > 0);
    const hit = await page.evaluate(() => {
      const r = document.querySelector('#returning').getBoundingClientRect();
      return ['#speak', '#done', '#stars', '#next-page'].filter((s) => {
        const b = document.querySelector(s).getBoundingClientRect();
        return b.width > 0 && r.left < b.right && b.left < r.right && r.top < b.bottom && b.top < r.bottom;
      });
    });
    if (hit.length) await fail(page, artifacts, `the countdown covers ${hit} at ${orient}`);
    await shot('result');
    // Read aloud: audio from the server, played; a rating meanwhile neither ends the visit
    // nor the reading.
    await page.click('#speak');
    await page.waitForFunction(() => Number(document.body.dataset.spoken || 0) >= 1, null, { timeout: 30000 });
    await page.click('#stars button:nth-child(5)');
    await page.waitForSelector('#thanks:not([hidden])');
    if (await visible('#rate-label')) await fail(page, artifacts, 'the rating question stays after the thanks');
    const spokenAtRating = await page.evaluate(() => Number(document.body.dataset.spoken || 0));
    await page.waitForTimeout(7000);
    if (!(await visible('#result'))) await fail(page, artifacts, 'the rating ended the visit');
    const spokenAfter = await page.evaluate(() => Number(document.body.dataset.spoken || 0));
    if (spokenAfter <= spokenAtRating) await fail(page, artifacts, `reading stopped at the rating (${spokenAtRating} → ${spokenAfter} phrases)`);
    if ((await page.textContent('#speak-status')).includes('Không đọc')) await fail(page, artifacts, 'read-aloud failed');
    await page.click('#speak');
    // The second page.
    await page.click('#next-page');
    const more = await page.$$eval('.dossier', (ds) => ds.map((d) => d.dataset.code));
    if (more.length !== 1 || codes.includes(more[0])) await fail(page, artifacts, `second page ${more}`);
    // English: timeline steps in English too.
    await page.click('#lang');
    await page.waitForFunction(() => document.documentElement.lang === 'en');
    const tl = await page.textContent('.timeline');
    if (/Được tiếp nhận|Đang xử lý/.test(tl)) await fail(page, artifacts, `timeline in Vietnamese in English mode: ${tl}`);
    await shot('result-en');
    await page.click('#done');
    await page.waitForSelector('#idle:not([hidden])');
    if ((await page.evaluate(() => document.documentElement.lang)) !== 'vi') await fail(page, artifacts, 'English left on for the next citizen');
    await shot('idle');
    // The same face still there: not recognised again until it leaves.
    await page.waitForTimeout(2500);
    if (!(await visible('#idle'))) await fail(page, artifacts, 'the same person was looked up again after "Xong"');
    await page.click('#to-qr-idle');
    await page.waitForSelector('#qr:not([hidden])');
    await shot('qr');
    await page.click('#qr .home');
    await page.click('#lang');
    await page.click('#to-keypad-idle');
    const prefix = await page.inputValue('#code');
    if (!prefix.endsWith('-')) await fail(page, artifacts, `no code prefix: ${prefix}`);
    for (const k of ['2', '6', '1']) await page.click(`#digit-keys button:text-is("${k}")`);
    await page.click('#digits');
    for (const k of ['4', '5']) await page.click(`#digit-keys button:text-is("${k}")`);
    if ((await page.getAttribute('#digits', 'type')) !== 'password') await fail(page, artifacts, 'ID digits not masked');
    await shot('keypad');
    // Walk away: "need more time?", then back to the start with nothing left.
    await page.waitForSelector('#more-time:not([hidden])', { timeout: 60000 });
    await shot('more-time');
    await page.waitForSelector('#idle:not([hidden])', { timeout: 20000 });
    const left = await page.evaluate(() => [document.querySelector('#code').value, document.querySelector('#digits').value, document.documentElement.lang]);
    if (left[0] !== prefix || left[1] !== '' || left[2] !== 'vi') await fail(page, artifacts, `left behind: ${left}`);
    console.log(`OK tour ${orient}: ${codes.join(', ')} + ${more}`);
  } else if (scenario === 'stranger') {
    await page.waitForSelector('#fallback:not([hidden])');
    await shot('fallback');
    for (const id of ['#show-qr', '#to-keypad', '#fallback-help']) if (!(await visible(id))) await fail(page, artifacts, `${id} not offered`);
    await fits(['#show-qr', '#to-keypad', '#fallback-help']);
    // "Đưa mã QR vào giữa khung": the large preview with the receipt's frame, as on the QR screen.
    const cam = await page.evaluate(() => {
      const c = document.querySelector('.camera').getBoundingClientRect();
      const g = getComputedStyle(document.querySelector('.qr-guide')).display;
      return { w: c.width, vw: innerWidth, guide: g };
    });
    if (cam.w < 0.4 * cam.vw || cam.guide === 'none') await fail(page, artifacts, `not-found preview ${JSON.stringify(cam)}`);
    await page.waitForSelector('#more-time:not([hidden])', { timeout: 60000 });
    await page.waitForSelector('#idle:not([hidden])', { timeout: 20000 });
    await shot('back-to-start');
    // Still standing there: not asked again.
    await page.waitForTimeout(4000);
    const e = await page.evaluate(() => [window.entered, window.sawChallenge]);
    if (e[0].fallback !== 1 || e[1]) await fail(page, artifacts, `screens entered ${JSON.stringify(e)}`);
    console.log(`OK stranger ${orient}: ${JSON.stringify(e[0])}`);
  } else if (scenario === 'limits') {
    const [a, da, b, db, c] = args;
    await page.click('#to-keypad-idle');
    for (let i = 0; i < 5; i++) {
      const r = await keypadTry(a, '0000');
      if (!r.includes('Không tìm thấy')) await fail(page, artifacts, `miss ${i + 1} on A: ${r}`);
    }
    const locked = await keypadTry(a, da);
    if (!locked.includes('tạm khoá')) await fail(page, artifacts, `A not locked: ${locked}`);
    await shot('code-locked');
    if ((await keypadTry(b, db)) !== 'ok') await fail(page, artifacts, 'another code was refused after A was locked');
    await page.click('#done');
    await page.waitForSelector('#idle:not([hidden])');
    await page.click('#to-keypad-idle');
    for (let i = 0; i < 5; i++) {
      const r = await keypadTry(c, '0000');
      if (!r.includes('Không tìm thấy')) await fail(page, artifacts, `miss ${i + 1} on C: ${r}`);
      if ((await keypadTry(b, db)) !== 'ok') await fail(page, artifacts, 'B refused');
      await page.click('#done');
      await page.click('#to-keypad-idle');
    }
    const r = await keypadTry(c, '1234');
    if (!r.includes('tạm khoá')) await fail(page, artifacts, `C given a 6th try: ${r}`);
    console.log('OK limits');
  } else if (scenario === 'qrbutton') {
    const [code] = args;
    if (await visible('#result')) await fail(page, artifacts, 'the start screen read the receipt before the QR button was tapped (video timing)');
    await page.click('#to-qr-idle');
    await page.waitForSelector('#qr:not([hidden])');
    const t0 = Date.now();
    await page.waitForSelector('#result:not([hidden])', { timeout: 15000 });
    if (!(await page.$(`.dossier[data-code="${code}"]`))) await fail(page, artifacts, `dossier ${code} not shown`);
    console.log(`OK qrbutton ${orient}: read in ${Date.now() - t0} ms`);
  } else if (scenario === 'startqr') {
    const [code] = args;
    await page.waitForFunction(() => document.querySelector('#video').videoWidth > 0);
    const t0 = Date.now();
    await page.waitForSelector('#result:not([hidden])', { timeout: 15000 });
    const ms = Date.now() - t0;
    if (!(await page.$(`.dossier[data-code="${code}"]`))) await fail(page, artifacts, `dossier ${code} not shown`);
    const e = await page.evaluate(() => window.entered);
    if (e.fallback || e.qr) await fail(page, artifacts, `not read on the start screen: ${JSON.stringify(e)}`);
    if (ms > 2000) await fail(page, artifacts, `read in ${ms} ms (more than 2 s)`);
    console.log(`OK startqr ${orient}: read in ${ms} ms`);
  } else if (scenario === 'receiptstays') {
    const [code] = args;
    await page.waitForSelector('#result:not([hidden])', { timeout: 15000 });
    if (!(await page.$(`.dossier[data-code="${code}"]`))) await fail(page, artifacts, `dossier ${code} not shown`);
    await shot('receipt-result');
    // Held up longer than the inactivity time and its "more time?" grace (8 + 10 s).
    await page.waitForTimeout(22000);
    const e = await page.evaluate(() => window.entered);
    if (!(await visible('#result')) || e.result !== 1 || e.idle) await fail(page, artifacts, `the receipt's result did not stay: ${JSON.stringify(e)}`);
    console.log(`OK receiptstays ${orient}: ${JSON.stringify(e)}`);
  } else if (scenario === 'confirm') {
    const [digits, name] = args;
    const wrong = digits.endsWith('!');
    await page.waitForSelector('#confirm:not([hidden])');
    await fits(['#confirm-keys button', '#confirm-not-me', '.digit-box']);
    await shot(wrong ? 'confirm' : 'confirm-right');
    const e0 = await page.evaluate(() => window.entered);
    for (const d of digits.replace('!', '')) await page.click(`#confirm-keys button:text-is("${d}")`);
    if (wrong) {
      await page.waitForSelector('#fallback:not([hidden])');
      if (await visible('#result')) await fail(page, artifacts, 'a result after wrong digits');
      await shot('confirm-wrong');
    } else {
      await page.waitForSelector('#result:not([hidden])');
      if ((await page.textContent('#name')) !== name) await fail(page, artifacts, `greeting ${await page.textContent('#name')}`);
    }
    console.log(`OK confirm ${orient}: ${wrong ? 'wrong digits → fallback' : 'right digits → result'} (${JSON.stringify(e0)})`);
  } else if (scenario === 'lookup') {
    const [code, digits] = args;
    await page.click('#to-keypad-idle');
    const r = await keypadTry(code, digits);
    if (r !== 'ok' || !(await page.$(`.dossier[data-code="${code}"]`))) await fail(page, artifacts, `lookup: ${r}`);
    await shot('demo-lookup');
    console.log(`OK lookup ${code}`);
  } else {
    await fail(page, artifacts, `unknown scenario ${scenario}`);
  }
  if (errors.length) await fail(page, artifacts, `page errors: ${errors.join('; ')}`);
} catch (e) {
  await fail(page, artifacts, e.stack || String(e));
} finally {
  await ctx.close();
}
