// status_page_live.mjs -- drives headless Chromium over the DevTools
// protocol (no npm package: Node's fetch and WebSocket) to check that the
// status page, with JavaScript on, follows GET /v1/events: it opens the
// page, waits until the page says its event stream is live, queues a run
// of plan "shop" over the API, and waits until the page shows that run as
// succeeded without a reload.  Saves the final DOM and a screenshot.
//
// usage: node --experimental-websocket status_page_live.mjs CHROMIUM BASE_URL OUT_DIR PROFILE_DIR
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';

const [chromium, base, outDir, profile] = process.argv.slice(2);
const deadline = (ms) => Date.now() + ms;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function fail(msg) {
  console.error(`FAIL: ${msg}`);
  process.exit(1);
}

const browser = spawn(chromium, ['--headless', '--no-sandbox', '--disable-gpu',
  '--disable-dev-shm-usage', '--no-first-run', `--user-data-dir=${profile}`,
  '--remote-debugging-port=0', '--window-size=1280,900', 'about:blank'],
  { stdio: ['ignore', 'ignore', 'pipe'] });
const killTimer = setTimeout(() => { browser.kill('SIGKILL'); fail('timed out'); }, 150000);

const wsUrl = await new Promise((resolve, reject) => {
  let err = '';
  browser.stderr.on('data', (d) => {
    err += d;
    const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
    if (m) resolve(m[1]);
  });
  browser.on('exit', (code) => reject(new Error(`chromium exited ${code}: ${err}`)));
}).catch((e) => fail(e.message));

const ws = new WebSocket(wsUrl);
await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; })
  .catch(() => fail('cannot connect to DevTools'));
let nextId = 1;
const pending = new Map();
ws.onmessage = (ev) => {
  const msg = JSON.parse(ev.data);
  if (msg.id && pending.has(msg.id)) {
    const { resolve, reject } = pending.get(msg.id);
    pending.delete(msg.id);
    if (msg.error) reject(new Error(JSON.stringify(msg.error)));
    else resolve(msg.result);
  }
};
function send(method, params = {}, sessionId) {
  const id = nextId++;
  ws.send(JSON.stringify({ id, method, params, sessionId }));
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
}

const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true });
const page = (method, params) => send(method, params, sessionId);
async function evaluate(expression) {
  const r = await page('Runtime.evaluate', { expression, returnByValue: true });
  return r.result.value;
}
async function until(what, expression, ms) {
  for (const end = deadline(ms); Date.now() < end; await sleep(100)) {
    if (await evaluate(expression)) return;
  }
  fail(`${what} (within ${ms} ms)`);
}

await page('Page.enable');
await page('Runtime.enable');
await page('Page.navigate', { url: `${base}/` });
await until('the page did not load', `!!document.getElementById('main')`, 30000);
await until('the page never said its event stream is live',
  `(document.getElementById('live')||{}).dataset.live === 'on'`, 30000);

const r = await fetch(`${base}/v1/plans/shop/runs`, { method: 'POST' });
if (r.status !== 202) fail(`queueing a run: HTTP ${r.status}`);
const run = (await r.json()).id;
const row = `document.querySelector('tr.plan[data-plan="shop"] td.outcome')`;
await until(`the page did not show run #${run} succeeded without a reload`,
  `(${row}||{}).dataset.outcome === 'succeeded' && ${row}.textContent.includes('#${run}')`,
  60000);
const refreshes = await evaluate(`Number(document.body.dataset.refreshes || 0)`);
if (!(refreshes >= 1)) fail(`the page was not refreshed from events (${refreshes})`);
const navigations = await evaluate(`performance.getEntriesByType('navigation').length`);
if (navigations !== 1) fail(`the page was reloaded (${navigations} navigations)`);

writeFileSync(`${outDir}/dom-live.html`, await evaluate('document.documentElement.outerHTML'));
const shot = await page('Page.captureScreenshot', { format: 'png' });
writeFileSync(`${outDir}/status-page-live.png`, Buffer.from(shot.data, 'base64'));
console.log(`ok: run #${run} appeared live after ${refreshes} refresh(es); ` +
  `screenshot: ${outDir}/status-page-live.png`);
await send('Browser.close').catch(() => {});
clearTimeout(killTimer);
ws.close();
