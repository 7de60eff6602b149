// Drives the node's web app in the system's Chromium (headless, through puppeteer-core), one
// step per run, and prints what the page showed as one JSON line.
//
//   NODE_PATH=.tools/npm/node_modules node webapp.js STEP API_URL SHOTS_DIR
//
// Steps:
//   chat     asks the model, watches the answer stream in, verifies its receipt
//   guard    waits on #guard for the wallet proxy's confirmations: approves the first, rejects
//            the second (prints "ready" on stderr once the page is open)
//   money    reads the earnings on #money
//   markets  opens the first market and its price chart
//   pages    the remaining pages (agents, jobs, funding), and that none shows a script error
//   jury     a juror answers a funding round's pairwise questions on #funding
//   reveal   and reveals them
//   attack   a page on another origin tries to write a mandate and to approve a confirmation
//
// Every step saves screenshots to SHOTS_DIR. CHROMIUM names the browser (default: the first of
// chromium, chromium-browser, google-chrome on the PATH).
'use strict';
const puppeteer = require('puppeteer-core');
const http = require('http');
const fs = require('fs');
const path = require('path');

const [step, api, shots] = process.argv.slice(2);

function browserPath() {
  if (process.env.CHROMIUM) return process.env.CHROMIUM;
  for (const dir of (process.env.PATH || '').split(':')) {
    for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
      const p = path.join(dir, name);
      if (fs.existsSync(p)) return p;
    }
  }
  throw new Error('no Chromium on the PATH: run `make setup-browser`');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function open(route) {
  const browser = await puppeteer.launch({
    executablePath: browserPath(),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  const problems = [];
  page.on('pageerror', (e) => problems.push('script error: ' + e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push('console: ' + m.text());
  });
  await page.goto(`${api}/#${route}`, { waitUntil: 'domcontentloaded' });
  return { browser, page, problems };
}

// Every panel has its data or its message: no "Loading…" left (and a moment to paint).
async function settle(page) {
  await page.waitForFunction(() => document.querySelector('main .card') && !document.querySelector('.loading'), { timeout: 30000 });
  await sleep(200);
}

// The jury's message settles as good or bad once the node answered ("Committing…" until then).
function answered(page) {
  return page.waitForFunction(() => {
    const m = document.querySelector('[data-test="jury-message"]');
    return m && (m.classList.contains('good') || m.classList.contains('bad'));
  }, { timeout: 60000 });
}

async function shot(page, name) {
  fs.mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: path.join(shots, `${name}.png`) });
}

const steps = {
  async chat() {
    const { browser, page, problems } = await open('chat');
    await page.waitForSelector('[data-test="chat-input"]');
    await page.type('[data-test="chat-input"]', 'Name three colours of the rainbow.');
    // Count how often the answer's text grows while it streams.
    await page.evaluate(() => {
      window.__growth = [];
      new MutationObserver(() => {
        const a = document.querySelector('[data-test="chat-answer"]');
        if (a) window.__growth.push(a.textContent.length);
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    await page.click('[data-test="chat-send"]');
    await page.waitForSelector('[data-test="chat-answer"][data-done="true"]', { timeout: 120000 });
    const growth = await page.evaluate(() => [...new Set(window.__growth)].length);
    const answer = await page.$eval('[data-test="chat-answer"]', (e) => e.textContent);
    await page.click('[data-test="verify"]');
    await page.waitForFunction(
      () => /good|bad/.test(document.querySelector('[data-test="verify-result"]').className),
      { timeout: 60000 },
    );
    const verify = await page.$eval('[data-test="verify-result"]', (e) => ({ text: e.textContent, good: e.classList.contains('good') }));
    await shot(page, 'chat');
    await browser.close();
    return { growth, answer, verify, problems };
  },

  async guard() {
    const { browser, page, problems } = await open('guard');
    await page.waitForSelector('[data-test="guard-badge"]');
    await sleep(1500); // a poll or two: the node now counts the page as open
    process.stderr.write('ready\n');
    const decided = [];
    for (const approve of [true, false]) {
      const card = await page.waitForSelector('[data-test="guard-pending"]', { timeout: 120000 });
      const id = await card.evaluate((e) => e.getAttribute('data-id'));
      const level = await card.evaluate((e) => (e.querySelector('[data-test="level"]') || e).textContent);
      if (approve) await shot(page, 'guard');
      await card.$eval(`[data-test="${approve ? 'approve' : 'reject'}"]`, (b) => b.click());
      await page.waitForFunction((id) => !document.querySelector(`[data-test="guard-pending"][data-id="${id}"]`), { timeout: 30000 }, id);
      decided.push({ id, approve, level });
    }
    await sleep(1500);
    const history = await page.$eval('[data-test="guard-history"]', (e) => e.textContent);
    // The spender goes into the address book from the page.
    await page.type('[data-test="list-entry"]', '0xabababababababababababababababababababab');
    await page.type('[data-test="list-label"]', 'the spender');
    await page.click('[data-test="list-add"]');
    await page.waitForFunction(() => {
      const m = document.querySelector('[data-test="list-message"]');
      return m && (m.classList.contains('good') || m.classList.contains('bad'));
    }, { timeout: 30000 });
    const listed = await page.$eval('[data-test="list-message"]', (e) => e.textContent);
    await page.waitForFunction(() => document.body.textContent.includes('the spender'), { timeout: 30000 });
    await shot(page, 'guard-history');
    await browser.close();
    return { decided, history, listed, problems };
  },

  async money() {
    const { browser, page, problems } = await open('money');
    await page.waitForSelector('[data-test="earnings-total"]', { timeout: 30000 });
    await page.waitForSelector('[data-test="earnings-chart"]', { timeout: 30000 });
    await settle(page);
    const total = await page.$eval('[data-test="earnings-total"]', (e) => e.textContent);
    const bars = await page.$$eval('[data-test="earnings-chart"] rect', (r) => r.filter((x) => Number(x.getAttribute('height')) > 0).length);
    await shot(page, process.env.SHOT || 'money');
    await browser.close();
    return { total, bars, problems };
  },

  async markets() {
    const { browser, page, problems } = await open('markets');
    const row = await page.waitForSelector('[data-test="market-row"]', { timeout: 30000 });
    const text = await row.evaluate((e) => e.textContent);
    await row.click();
    await page.waitForSelector('[data-test="market-chart"] path, [data-test="market-chart"] polyline', { timeout: 30000 });
    const lines = await page.$$eval('[data-test="market-chart"] path, [data-test="market-chart"] polyline', (l) => l.length);
    await shot(page, 'markets');
    await browser.close();
    return { text, lines, problems };
  },

  async pages() {
    const { browser, page, problems } = await open('agents');
    const seen = {};
    for (const route of ['agents', 'jobs', 'funding']) {
      await page.goto(`${api}/#${route}`, { waitUntil: 'domcontentloaded' });
      await settle(page);
      seen[route] = await page.evaluate(() => ({
        offline: [...document.querySelectorAll('[data-test="offline"]')].map((e) => e.textContent),
        text: document.querySelector('main') ? document.querySelector('main').textContent.slice(0, 400) : '',
      }));
      if (route === 'agents') {
        // One agent's reputation, counting only a rater the owner trusts.
        await page.type('[data-test="trust-raters"]', '0x00000000000000000000000000000000000000aa');
        await page.$eval('[data-test="trust-raters"]', (e) => e.dispatchEvent(new Event('change')));
        await page.click('[data-test="agent-row"]');
        await page.waitForFunction(() => {
          const d = document.querySelector('[data-test="agent-detail"]');
          return d && !d.hidden && !d.querySelector('.loading') && d.textContent.length > 40;
        }, { timeout: 30000 });
        seen.agentDetail = await page.$eval('[data-test="agent-detail"]', (e) => e.textContent.slice(0, 600));
      }
      await shot(page, route);
    }
    await browser.close();
    return { seen, problems };
  },

  async jury() {
    // A juror answers its pairwise questions: the first dependency deserves twice the second.
    const { browser, page, problems } = await open('funding');
    const open_ = await page.waitForSelector('[data-test="jury-open"]', { timeout: 30000 });
    await open_.click();
    await page.waitForSelector('[data-test="jury-form"]', { timeout: 60000 });
    const questions = await page.$$eval('[data-test="jury-form"] [data-test="jury-times"]', (t) => t.length);
    await page.evaluate(() => {
      const form = document.querySelector('[data-test="jury-form"]');
      const seen = new Set();
      for (const r of form.querySelectorAll('[data-test="jury-choice"]')) {
        if (!seen.has(r.name)) { r.click(); seen.add(r.name); }
      }
      for (const t of form.querySelectorAll('[data-test="jury-times"]')) t.value = '2';
    });
    await shot(page, 'funding-jury');
    await page.click('[data-test="jury-submit"]');
    await answered(page);
    const message = await page.$eval('[data-test="jury-message"]', (e) => e.textContent);
    await browser.close();
    return { questions, message, problems };
  },

  async reveal() {
    const { browser, page, problems } = await open('funding');
    const button = await page.waitForSelector('[data-test="jury-reveal"]', { timeout: 30000 });
    await button.click();
    await answered(page);
    const message = await page.$eval('[data-test="jury-message"]', (e) => e.textContent);
    await browser.close();
    return { message, problems };
  },

  async attack() {
    // A page on another origin (another port of the same host) tries what a malicious site would.
    const attackPage = `<!doctype html><meta charset="utf-8"><body><form id="f" method="POST" action="${api}/ui/api/mandates" enctype="text/plain">
      <input name='{"name":"evil","budget":"1000","per_call":"1000","payees":[],"x":"' value='"}'></form>
      <script>
      (async () => {
        const out = {};
        const tryFetch = async (name, url, opts) => {
          try { const r = await fetch(url, opts); out[name] = 'status ' + r.status; }
          catch (e) { out[name] = 'blocked: ' + e.message; }
        };
        await tryFetch('json', '${api}/ui/api/mandates', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'evil', budget: '1000', per_call: '1000', payees: [] }) });
        await tryFetch('simple', '${api}/ui/api/mandates', { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ name: 'evil', budget: '1000', per_call: '1000', payees: [] }) });
        await tryFetch('approve', '${api}/ui/api/guard/pending/0', { method: 'POST', mode: 'no-cors', body: '{"approve":true}' });
        await tryFetch('read', '${api}/ui/api/money', {});
        console.log('RESULT ' + JSON.stringify(out));
        setTimeout(() => document.getElementById('f').submit(), 300);
      })();
      </script>`;
    const server = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(attackPage);
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const origin = `http://127.0.0.1:${server.address().port}`;
    const browser = await puppeteer.launch({ executablePath: browserPath(), headless: true, args: ['--no-sandbox', '--disable-gpu'] });
    const page = await browser.newPage();
    const reported = new Promise((resolve) => {
      page.on('console', (m) => {
        if (m.text().startsWith('RESULT ')) resolve(JSON.parse(m.text().slice(7)));
      });
    });
    await page.goto(origin, { waitUntil: 'domcontentloaded' });
    const results = await Promise.race([reported, sleep(30000).then(() => ({ timeout: 'no result in 30 s' }))]);
    // The form's navigation lands on the node's answer (an error page, or nothing at all).
    await sleep(2000);
    const landed = await page.evaluate(() => document.body ? document.body.innerText.slice(0, 300) : '');
    await browser.close();
    server.close();
    return { origin, results, landed };
  },
};

(async () => {
  if (!steps[step]) throw new Error(`unknown step ${step}: ${Object.keys(steps).join(', ')}`);
  const result = await steps[step]();
  // Done: leave now, without waiting for a timer still pending (the attack's deadline).
  process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0));
})().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`);
  process.exit(1);
});
