// The dashboard in headless Chromium (Debian's `chromium`), driven over the DevTools protocol:
// every page loads without console errors for each role and language, the audience builder
// returns a count, the Excel download holds the CLI export's rows, the auditor finds that
// download in the audit log, the customer 360 page draws the related-party graph. Screenshots
// go to target/browser-artifacts/.
//
//   node --experimental-websocket --test tests/browser/dashboard.test.mjs
//
// Needs `target/debug/portrait` (or PORTRAIT_BIN) and `chromium` on the PATH.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = process.env.PORTRAIT_BIN || join(root, 'target/debug/portrait');
const artifacts = join(root, 'target/browser-artifacts');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const port = 18000 + Math.floor(Math.random() * 2000);
const debugPort = port + 2000;
const base = `http://127.0.0.1:${port}`;

let tmp, server, chrome, ws, token, store, lastExport;
let id = 0;
const pending = new Map();
let errors = [];

function portrait(...args) {
  return execFileSync(bin, ['--quiet', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function send(method, params = {}) {
  return new Promise((resolve, reject) => {
    const i = ++id;
    pending.set(i, (m) => (m.error ? reject(new Error(`${method}: ${m.error.message}`)) : resolve(m.result)));
    ws.send(JSON.stringify({ id: i, method, params }));
  });
}

async function evaluate(expression) {
  const r = await send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
  if (r.exceptionDetails) throw new Error(`${expression}: ${JSON.stringify(r.exceptionDetails).slice(0, 300)}`);
  return r.result.value;
}

async function until(expression, what, ms = 15000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await evaluate(expression)) return;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function open(hash) {
  await send('Page.navigate', { url: `${base}/?load=${++id}${hash}` });
  await until("document.readyState === 'complete'", 'the page to load');
}

async function screenshot(name) {
  const r = await send('Page.captureScreenshot', { format: 'png' });
  writeFileSync(join(artifacts, `${name}.png`), Buffer.from(r.data, 'base64'));
}

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  tmp = mkdtempSync(join(tmpdir(), 'portrait-browser-'));
  store = join(tmp, 'store');
  portrait('generate', '--customers', '3000', '--seed', '7', '--out', join(tmp, 'bank'));
  portrait('--store', store, 'ingest', join(tmp, 'bank'));
  portrait('--store', store, 'run');
  token = portrait('--store', store, 'user', 'add', 'browser', '--role', 'marketer').trim();
  server = spawn(bin, ['--quiet', '--store', store, 'serve', '--addr', `127.0.0.1:${port}`], { stdio: 'ignore' });
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/health`)).ok) break;
    } catch {}
    if (i > 100) throw new Error('the server did not start');
    await sleep(100);
  }
  chrome = spawn('chromium', [
    '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    `--remote-debugging-port=${debugPort}`, `--user-data-dir=${join(tmp, 'chrome')}`,
    '--window-size=1440,1000', 'about:blank',
  ], { stdio: 'ignore' });
  let targets;
  for (let i = 0; ; i++) {
    try {
      targets = await (await fetch(`http://127.0.0.1:${debugPort}/json/list`)).json();
      if (targets.some((t) => t.type === 'page')) break;
    } catch {}
    if (i > 150) throw new Error('chromium did not start');
    await sleep(200);
  }
  ws = new WebSocket(targets.find((t) => t.type === 'page').webSocketDebuggerUrl);
  await new Promise((r, e) => { ws.addEventListener('open', r); ws.addEventListener('error', e); });
  ws.addEventListener('message', (ev) => {
    const m = JSON.parse(ev.data);
    if (m.id && pending.has(m.id)) { pending.get(m.id)(m); pending.delete(m.id); }
    if (m.method === 'Runtime.exceptionThrown') errors.push(`exception: ${m.params.exceptionDetails.text} ${JSON.stringify(m.params.exceptionDetails.exception?.description || '')}`);
    if (m.method === 'Runtime.consoleAPICalled' && m.params.type === 'error') errors.push(`console.error: ${JSON.stringify(m.params.args).slice(0, 300)}`);
    if (m.method === 'Log.entryAdded' && m.params.entry.level === 'error') errors.push(`log: ${m.params.entry.text} ${m.params.entry.url || ''}`);
  });
  await send('Runtime.enable');
  await send('Log.enable');
  await send('Page.enable');
  await send('Emulation.setDeviceMetricsOverride', { width: 1440, height: 1000, deviceScaleFactor: 1, mobile: false });
  await open('');
  await evaluate(`sessionStorage.setItem('portrait.token', ${JSON.stringify(token)}); true`);
});

after(async () => {
  try { ws?.close(); } catch {}
  const exited = (p) => (p && p.exitCode === null ? new Promise((r) => p.once('exit', r)) : Promise.resolve());
  chrome?.kill();
  server?.kill();
  await Promise.race([Promise.all([exited(chrome), exited(server)]), sleep(5000)]);
  if (tmp) rmSync(tmp, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
});

test('every page loads without console errors', async () => {
  for (const [page, ready] of [
    ['overview', "document.querySelectorAll('#c-age canvas, #c-age svg').length > 0"],
    ['rfm', "document.querySelectorAll('#c-rfm canvas, #c-rfm svg').length > 0"],
    ['segments', "document.querySelectorAll('[id^=c-seg-] canvas, [id^=c-seg-] svg').length > 0"],
    ['audience', "!!document.querySelector('#expr')"],
    ['customers', "!!document.querySelector('#q')"],
  ]) {
    errors = [];
    await open(`#/${page}`);
    await until(ready, `the ${page} page`);
    await sleep(500);
    await screenshot(page);
    assert.deepEqual(errors, [], `console errors on ${page}`);
    assert.equal(await evaluate("document.querySelector('#shell').hidden"), false, `${page}: still at the login box`);
  }
});

test('the audience builder returns a count', async () => {
  errors = [];
  await open('#/audience');
  await until("!!document.querySelector('#expr')", 'the expression box');
  const expr = 'interest:red_wine AND NOT recency_class:churned';
  const want = Number(portrait('--store', store, 'audience', 'count', expr).trim().split('\n').pop());
  assert.ok(want > 0);
  await evaluate(`const e = document.querySelector('#expr'); e.value = ${JSON.stringify(expr)}; e.dispatchEvent(new Event('input', { bubbles: true })); true`);
  // The count shown settles on the CLI's count for the same expression.
  await until(`Number(document.querySelector('#count').textContent.replace(/[^0-9]/g, '')) === ${want}`, `the count ${want}`);
  // The portrait (人群画像) lists over-represented values, highest lift first.
  await until("document.querySelectorAll('#portrait tbody tr').length > 0", 'the audience portrait');
  const lifts = await evaluate("[...document.querySelectorAll('#portrait tbody tr')].map((tr) => Number(tr.children[4].textContent))");
  assert.ok(lifts.every((l) => l > 1), JSON.stringify(lifts));
  assert.deepEqual(lifts, [...lifts].sort((a, b) => b - a));
  const first = await evaluate("document.querySelector('#portrait tbody tr').children[1].textContent");
  assert.ok(first.length > 0);
  // 相似人群扩展: a lookalike of 50 is listed best first, with the checks that chose its method.
  await evaluate("document.querySelector('#ll-size').value = '50'; document.querySelector('#ll-run').click(); true");
  await until("document.querySelectorAll('#ll-out tbody tr').length === 20", 'the lookalike');
  const scores = await evaluate("[...document.querySelectorAll('#ll-out tbody tr')].map((tr) => Number(tr.children[1].textContent))");
  assert.deepEqual(scores, [...scores].sort((a, b) => b - a));
  const llMsg = await evaluate("document.querySelector('#ll-msg').textContent");
  assert.match(llMsg, /50/);
  assert.doesNotMatch(await evaluate("document.querySelector('#ll-out').textContent"), /spend_|freq_|_share\b/);
  await sleep(500);
  await screenshot('audience-count');
  assert.deepEqual(errors, []);
});

test('the customer 360 page draws the related-party graph', async () => {
  errors = [];
  const csv = portrait('--store', store, 'sql', "SELECT party_a AS p, count(*) AS n FROM link GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1", '--format', 'csv');
  const party = csv.trim().split('\n')[1].split(',')[0];
  await open(`#/customer/${encodeURIComponent(party)}`);
  await until("document.querySelectorAll('#c-graph canvas, #c-graph svg').length > 0", 'the graph');
  const nodes = await evaluate("echarts.getInstanceByDom(document.querySelector('#c-graph')).getOption().series[0].data.length");
  assert.ok(nodes > 1, `graph nodes: ${nodes}`);
  await sleep(1000);
  await screenshot('customer-360');
  assert.deepEqual(errors, []);
});

test('the audience page downloads an Excel workbook of the CLI export', async () => {
  errors = [];
  const downloads = join(tmp, 'downloads');
  mkdirSync(downloads, { recursive: true });
  await send('Page.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
  await open('#/audience');
  await until("!!document.querySelector('#export-xlsx')", 'the export button');
  const expr = 'interest:red_wine AND NOT recency_class:churned';
  await evaluate(`const e = document.querySelector('#expr'); e.value = ${JSON.stringify(expr)}; e.dispatchEvent(new Event('input', { bubbles: true })); true`);
  await evaluate("document.querySelector('#export-xlsx').click(); true");
  await until("/EXP-[0-9a-f]+/.test(document.querySelector('#save-msg').textContent)", 'the export message');
  const exportId = (await evaluate("document.querySelector('#save-msg').textContent")).match(/EXP-[0-9a-f]+/)[0];
  const file = join(downloads, 'audience.xlsx');
  for (let i = 0; i < 100 && !existsSync(file); i++) await sleep(100);
  await sleep(300);
  // Opened with Python's zipfile: the sheet's rows are the CLI export's, every one watermarked
  // with the id the page showed.
  const check = execFileSync('python3', ['-c', `
import re, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
sheet = z.read('xl/worksheets/sheet1.xml').decode()
rows = re.findall(r'<row [^>]*>', sheet)
print(len(rows) - 1, sheet.count(sys.argv[2]))
`, file, exportId], { encoding: 'utf8' }).trim().split(' ').map(Number);
  const want = Number(portrait('--store', store, 'audience', 'export', expr, '--out', join(tmp, 'cli.csv')).trim());
  assert.ok(want > 0);
  assert.deepEqual(check, [want, want], 'rows of the workbook, rows watermarked');
  // The download is on record under the same id.
  const audit = JSON.parse(portrait('--store', store, 'audit', '--export-id', exportId, '--format', 'json'));
  assert.ok(JSON.stringify(audit).includes('audience.export'), JSON.stringify(audit).slice(0, 300));
  await screenshot('audience-export');
  assert.deepEqual(errors, []);
  lastExport = exportId;
});

async function login(tokenOf, lang) {
  await evaluate(`sessionStorage.setItem('portrait.token', ${JSON.stringify(tokenOf)}); localStorage.setItem('portrait.lang', ${JSON.stringify(lang)}); true`);
}

const READY = {
  overview: "document.querySelectorAll('#c-age canvas, #c-age svg').length > 0",
  rfm: "document.querySelectorAll('#c-rfm canvas, #c-rfm svg').length > 0",
  segments: "document.querySelectorAll('[id^=c-seg-] canvas, [id^=c-seg-] svg').length > 0",
  audience: "!!document.querySelector('#expr')",
  affinity: "document.querySelectorAll('#aff-rows table tbody tr').length > 0 && document.querySelectorAll('#c-aff canvas, #c-aff svg').length > 0",
  customers: "!!document.querySelector('#q')",
  coverage: "!!document.querySelector('#cov-rows table')",
  audit: "!!document.querySelector('#audit-rows table, #audit-rows .empty')",
};

test('each role sees its own pages, in both languages, without console errors', async () => {
  const roles = {
    analyst: ['overview', 'rfm', 'segments', 'audience', 'affinity', 'customers', 'coverage'],
    auditor: ['audit'],
  };
  for (const [role, pages] of Object.entries(roles)) {
    const tk = portrait('--store', store, 'user', 'add', `browser-${role}`, '--role', role).trim();
    for (const lang of ['zh', 'en']) {
      await login(tk, lang);
      for (const page of pages) {
        errors = [];
        await open(`#/${page}`);
        await until(READY[page], `the ${page} page as ${role} (${lang})`);
        await sleep(300);
        assert.deepEqual(errors, [], `console errors on ${page} as ${role} (${lang})`);
        const visible = await evaluate("[...document.querySelectorAll('.side a[data-page]')].filter((a) => !a.hidden).map((a) => a.dataset.page)");
        assert.deepEqual(visible, pages, `the navigation of ${role}`);
        const title = await evaluate("document.querySelector('#title').textContent");
        assert.ok(title && !title.startsWith('nav.'), `${page} has a title in ${lang}: ${title}`);
        if (page === 'affinity' && lang === 'zh') {
          // Tag values are shown by their labels: no lower-case code in 中文 mode.
          const cells = await evaluate("[...document.querySelectorAll('#aff-rows tbody tr')].map((tr) => tr.children[0].textContent + ' ' + tr.children[1].textContent)");
          assert.deepEqual(cells.filter((c) => /(^| )[a-z][a-z_]+$/.test(c)), [], 'untranslated codes on the affinity page');
        }
        if (lang === 'zh') await screenshot(`${page}-${role}`);
      }
    }
  }
  await login(token, 'zh');
});

test('the auditor finds the dashboard export in the audit log', async () => {
  assert.ok(lastExport, 'the export test ran first');
  const tk = portrait('--store', store, 'user', 'add', 'browser-auditor-2', '--role', 'auditor').trim();
  await login(tk, 'en');
  errors = [];
  await open(`#/audit/${encodeURIComponent(lastExport)}`);
  await until("!!document.querySelector('#audit-rows table')", 'the audit rows');
  const rows = await evaluate("[...document.querySelectorAll('#audit-rows tbody tr')].map((tr) => tr.textContent)");
  assert.ok(rows.length >= 1, 'the export has a record');
  assert.ok(rows.every((r) => r.includes(lastExport)), 'filtered by the export id');
  assert.ok(rows.some((r) => r.includes('audience.export') && r.includes('browser')), rows.join('\n').slice(0, 400));
  await screenshot('audit-export');
  assert.deepEqual(errors, []);
  await login(token, 'zh');
});
