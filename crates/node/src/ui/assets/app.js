// The agora node's local web app. Plain ES2020, no modules, no build step.
// Everything from the node, the chain or a model is put on the page as text (textContent,
// text nodes), never as markup. API contract: the node's UI spec (`GET /`, `/ui/api/*`).
'use strict';

(function () {
  // ---------------------------------------------------------------------------------------------
  // Basics: the session token, the API client, DOM builders.
  // ---------------------------------------------------------------------------------------------

  const SESSION = (document.querySelector('meta[name="agora-session"]') || {}).content || '';

  /** One request to the node. A `body` makes it a POST (with the JSON and session headers).
   *  Answers the parsed JSON; throws an Error carrying the node's `error.message` otherwise. */
  async function api(path, opts = {}) {
    const method = opts.method || (opts.body !== undefined ? 'POST' : 'GET');
    const init = { method, headers: { accept: 'application/json' }, signal: opts.signal };
    if (method !== 'GET') {
      init.headers['content-type'] = 'application/json';
      init.headers['x-agora-session'] = SESSION;
      init.body = JSON.stringify(opts.body === undefined ? {} : opts.body);
    } else if (opts.session) {
      // A read that says "this page is open" (the guard's queue) proves it is this node's page.
      init.headers['x-agora-session'] = SESSION;
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      throw unreachable(e);
    }
    return readJson(response);
  }

  /** A network failure as a plain sentence (an abort stays an AbortError). */
  function unreachable(e) {
    if (e && e.name === 'AbortError') return e;
    return new Error('the node does not answer (' + ((e && e.message) || 'network error') + ')');
  }

  async function readJson(response) {
    const text = await response.text();
    let body = null;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch (_) {
        body = null;
      }
    }
    if (!response.ok) throw nodeError(response, body);
    if (body === null && text) throw new Error('the node answered something that is not JSON');
    return body;
  }

  /** The node's error (`{"error": {"message", "type", "code"}}`) as an Error; never the raw body. */
  function nodeError(response, body) {
    const e = body && body.error;
    let message = '';
    if (e && typeof e.message === 'string') message = e.message;
    else if (typeof e === 'string') message = e;
    if (!message) message = ('the node answered ' + response.status + ' ' + (response.statusText || '')).trim();
    const err = new Error(message);
    err.status = response.status;
    err.type = e && e.type;
    err.code = e && e.code;
    return err;
  }

  const SVG_NS = 'http://www.w3.org/2000/svg';

  function setAttrs(node, attrs) {
    if (!attrs) return;
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'class') node.setAttribute('class', value);
      else if (key === 'test') node.setAttribute('data-test', value);
      else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
      else if (key === 'value' || key === 'checked' || key === 'disabled' || key === 'selected') node[key] = value;
      else node.setAttribute(key, value === true ? '' : String(value));
    }
  }

  function append(node, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /** `el('p', {class: 'x', test: 'hook', onclick: f}, 'text', otherNode, [more])`. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    setAttrs(node, attrs);
    return append(node, children);
  }

  /** The same for SVG elements. */
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs);
    return append(node, children);
  }

  function nodes(content) {
    const list = (Array.isArray(content) ? content : [content]).flat(Infinity);
    return list
      .filter((c) => c !== null && c !== undefined && c !== false)
      .map((c) => (c instanceof Node ? c : document.createTextNode(String(c))));
  }

  // ---------------------------------------------------------------------------------------------
  // Numbers, amounts, addresses, times.
  // ---------------------------------------------------------------------------------------------

  /** A whole number from a decimal or 0x-hex string (or a number), or null. */
  function toBig(value) {
    if (typeof value === 'bigint') return value;
    if (typeof value === 'number' && Number.isFinite(value)) return BigInt(Math.trunc(value));
    if (typeof value === 'string') {
      const s = value.trim();
      if (/^-?\d+$/.test(s) || /^0x[0-9a-fA-F]+$/.test(s)) return BigInt(s);
    }
    return null;
  }

  /** Atomic units as a decimal string with at least `minFrac` decimals, more when it has them. */
  function formatUnits(value, decimals, minFrac = 0) {
    let n = toBig(value);
    if (n === null) return null;
    const negative = n < 0n;
    if (negative) n = -n;
    const d = Math.max(0, Number(decimals) || 0);
    const base = 10n ** BigInt(d);
    const whole = n / base;
    let frac = d > 0 ? (n % base).toString().padStart(d, '0').replace(/0+$/, '') : '';
    if (frac.length < minFrac) frac = frac.padEnd(minFrac, '0');
    return (negative ? '-' : '') + whole.toString() + (frac ? '.' + frac : '');
  }

  /** Atomic dUSD (6 decimals) as dollars: "1.25 dUSD", "0.000125 dUSD". */
  function dollars(atomic) {
    const s = formatUnits(atomic, 6, 2);
    if (s === null) return atomic === null || atomic === undefined || atomic === '' ? '—' : String(atomic);
    return s + ' dUSD';
  }

  /** A decimal string cut to at most `places` decimals, trailing zeros dropped. */
  function trimDecimal(value, places) {
    if (value === null || value === undefined) return '—';
    const s = String(value);
    const m = /^(-?\d+)(?:\.(\d+))?$/.exec(s);
    if (!m) return s;
    const frac = (m[2] || '').slice(0, places).replace(/0+$/, '');
    return frac ? m[1] + '.' + frac : m[1];
  }

  function pct(price) {
    const p = Number(price);
    if (!Number.isFinite(p)) return '—';
    return (p * 100).toFixed(1) + '%';
  }

  /** A number for display: up to 4 decimals. */
  function num(value) {
    const n = Number(value);
    if (value === null || value === undefined || value === '' || !Number.isFinite(n)) return value === null || value === undefined ? '—' : String(value);
    return Number.isInteger(n) ? String(n) : String(Number(n.toFixed(4)));
  }

  const isAddress = (s) => typeof s === 'string' && /^0x[0-9a-fA-F]{40}$/.test(s);
  const isHash = (s) => typeof s === 'string' && /^0x[0-9a-fA-F]{64}$/.test(s);

  /** An id that may come as 0x-hex (a U256) as a decimal string. */
  function idText(value) {
    if (value === null || value === undefined) return '—';
    if (typeof value === 'string' && /^0x[0-9a-fA-F]{1,64}$/.test(value) && !isAddress(value)) {
      return BigInt(value).toString();
    }
    return String(value);
  }

  /** A long hex value shortened, the whole value in the tooltip. */
  function hexText(value) {
    const s = String(value);
    const short = s.length > 14 ? s.slice(0, 6) + '…' + s.slice(-4) : s;
    return el('span', { class: 'mono', title: s }, short);
  }

  function fmtTime(ms) {
    const n = Number(ms);
    if (!Number.isFinite(n) || n <= 0) return '—';
    return new Date(n).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  }

  const fmtUnix = (secs) => fmtTime(Number(secs) * 1000);

  function ago(ms) {
    const n = Number(ms);
    if (!Number.isFinite(n) || n <= 0) return '';
    const s = Math.max(0, Math.round((Date.now() - n) / 1000));
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    if (s < 86400) return Math.floor(s / 3600) + ' h ago';
    return Math.floor(s / 86400) + ' d ago';
  }

  function duration(secs) {
    const s = Number(secs);
    if (!Number.isFinite(s)) return '—';
    if (s < 60) return Math.floor(s) + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min';
    if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
    return Math.floor(s / 86400) + ' d ' + Math.floor((s % 86400) / 3600) + ' h';
  }

  /** `exact_settled` / `exactSettled` → "Exact settled". */
  function humanize(key) {
    const words = String(key).replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/[_-]+/g, ' ').trim().toLowerCase();
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  function compact(value) {
    try {
      return JSON.stringify(value);
    } catch (_) {
      return String(value);
    }
  }

  function plural(n, one, many) {
    return n + ' ' + (Number(n) === 1 ? one : many || one + 's');
  }

  /** Only http(s) links are followed; anything else is shown as text. */
  function safeUrl(url) {
    return typeof url === 'string' && /^https?:\/\//i.test(url) ? url : null;
  }

  // ---------------------------------------------------------------------------------------------
  // Panels: loading, data or the node's message; generic tables.
  // ---------------------------------------------------------------------------------------------

  const loading = (text) => el('p', { class: 'loading' }, text || 'Loading…');
  const errorText = (err) => (err && err.message ? err.message : String(err || 'something went wrong'));
  const offline = (err) => el('p', { class: 'offline', test: 'offline', role: 'status' }, errorText(err));
  const empty = (text) => el('p', { class: 'empty' }, text);

  /** Fills `box` from `load()` (which answers content): loading first, the node's message on
   *  failure. Later calls keep the old content (dimmed) until the new one arrives. */
  function filler(box, load) {
    let seq = 0;
    return function fill(fresh) {
      const mine = ++seq;
      if (!box.firstChild) box.replaceChildren(loading());
      else box.classList.add('busy');
      return Promise.resolve()
        .then(() => load(fresh === true))
        .then(
          (content) => {
            if (mine !== seq) return;
            const list = nodes(content);
            box.replaceChildren(...(list.length ? list : [empty('Nothing to show.')]));
          },
          (err) => {
            if (mine !== seq) return;
            box.replaceChildren(offline(err));
          }
        )
        .finally(() => {
          if (mine === seq) box.classList.remove('busy');
        });
    };
  }

  /** A titled panel whose body is loaded by `load(fresh)`; it has a Refresh button. */
  function card(title, load, opts = {}) {
    const body = el('div', { class: 'card-body' });
    const reload = filler(body, load);
    const refresh = el('button', { class: 'btn-link', type: 'button', onclick: () => reload(true) }, 'Refresh');
    const root = el(
      'section',
      { class: 'card' + (opts.class ? ' ' + opts.class : ''), test: opts.test },
      el('header', { class: 'card-head' }, el('h2', null, title), opts.noRefresh ? null : refresh),
      opts.intro ? el('p', { class: 'intro' }, opts.intro) : null,
      body,
      opts.footer || null
    );
    reload(false);
    return { root, body, reload };
  }

  /** A titled panel with fixed content. */
  function plainCard(title, ...children) {
    return el('section', { class: 'card' }, el('header', { class: 'card-head' }, el('h2', null, title)), children);
  }

  const AMOUNT_KEYS = new Set(
    [
      'amount', 'charged', 'claimed', 'deposited', 'budget', 'per_call', 'percall', 'spent', 'left',
      'price', 'paid', 'bond', 'stake', 'min_stake', 'minstake', 'balance', 'reward', 'bounty',
      'escrow', 'funded', 'raised', 'goal', 'pool', 'pledged', 'matched', 'matching', 'exact_settled',
      'exactsettled', 'voucher_max', 'vouchermax', 'unclaimed', 'refund', 'refunded', 'payout',
      'total', 'contributed', 'contribution', 'fee', 'cost', 'max_per_request', 'maxperrequest',
    ].map((k) => k.toLowerCase())
  );
  const isAmountKey = (key) => AMOUNT_KEYS.has(String(key).toLowerCase());
  const isSecondsKey = (key) => /(^|_)(at|time|end|deadline|expires|expiry|start)$|[a-z](At|Time|End|Deadline)$/.test(String(key));
  const isMillisKey = (key) => /(_ms|Ms)$/.test(String(key)) && !/(elapsed|latency|duration)/i.test(String(key));

  /** One table cell for `value` under column `key`. */
  function cell(key, value) {
    if (value === null || value === undefined || value === '') return el('span', { class: 'muted' }, '—');
    if (typeof value === 'boolean') return value ? 'yes' : 'no';
    if (typeof value === 'number') {
      if (isMillisKey(key) && value > 1e11) return fmtTime(value);
      if (isSecondsKey(key) && value > 1e9 && value < 1e11) return fmtUnix(value);
      return String(value);
    }
    if (typeof value === 'string') {
      if (isAddress(value) || isHash(value)) return hexText(value);
      if (/(^id$|_id$|[a-z]Id$)/.test(String(key))) return idText(value);
      if (isAmountKey(key) && toBig(value) !== null) return dollars(value);
      if (/^0x[0-9a-fA-F]+$/.test(value) && value.length > 20) return hexText(value);
      if (value.length > 120) return el('span', { title: value }, value.slice(0, 117) + '…');
      return value;
    }
    if (Array.isArray(value) && value.every((v) => v === null || typeof v !== 'object')) {
      if (value.length === 0) return el('span', { class: 'muted' }, 'none');
      return value.map((v, i) => [i ? ', ' : '', isAddress(v) || isHash(v) ? hexText(v) : String(v)]);
    }
    const text = compact(value);
    return el('span', { class: 'mono small', title: text.length > 120 ? text : null }, text.length > 120 ? text.slice(0, 117) + '…' : text);
  }

  function columnsOf(rows) {
    const seen = [];
    for (const row of rows) {
      if (row && typeof row === 'object' && !Array.isArray(row)) {
        for (const key of Object.keys(row)) if (!seen.includes(key)) seen.push(key);
      }
    }
    return seen.length ? seen : ['value'];
  }

  /** The preferred columns that some row has (or a formatter fills), then any others it has. */
  function pickColumns(rows, preferred, format) {
    const present = columnsOf(rows);
    const first = preferred.filter((c) => present.includes(c) || (format && format[c]));
    return first.concat(present.filter((c) => !first.includes(c)));
  }

  /** A table of whatever fields the objects have (nested values as compact JSON).
   *  opts: columns (preferred order; fields no row has are left out unless formatted; other
   *  fields follow), labels {key: header}, format {key: (value, row) => content}, rowAttrs(row, i), empty. */
  function table(rows, opts = {}) {
    if (!Array.isArray(rows) || rows.length === 0) return empty(opts.empty || 'None yet.');
    const columns = opts.columns ? (opts.exact ? opts.columns : pickColumns(rows, opts.columns, opts.format)) : columnsOf(rows);
    const labels = opts.labels || {};
    const format = opts.format || {};
    const valueOf = (row, key) =>
      row && typeof row === 'object' && !Array.isArray(row) ? row[key] : key === 'value' ? row : undefined;
    return el(
      'div',
      { class: 'table-wrap' },
      el(
        'table',
        { class: 'data' + (opts.class ? ' ' + opts.class : '') },
        el('thead', null, el('tr', null, columns.map((c) => el('th', { scope: 'col' }, labels[c] || humanize(c))))),
        el(
          'tbody',
          null,
          rows.map((row, i) =>
            el(
              'tr',
              opts.rowAttrs ? opts.rowAttrs(row, i) : null,
              columns.map((c) => el('td', null, format[c] ? format[c](valueOf(row, c), row) : cell(c, valueOf(row, c))))
            )
          )
        )
      )
    );
  }

  /** Label/value pairs. */
  function facts(pairs) {
    return el(
      'dl',
      { class: 'facts' },
      pairs.filter(Boolean).map(([label, value]) => [el('dt', null, label), el('dd', null, value === null || value === undefined ? '—' : value)])
    );
  }

  function chip(text, kind) {
    return el('span', { class: 'chip chip-' + String(kind || text).toLowerCase().replace(/[^a-z0-9]+/g, '-') }, text);
  }

  /** Makes a table row act as a button. */
  function clickableRow(onpick, attrs) {
    return Object.assign(
      {
        class: 'clickable',
        tabindex: '0',
        onclick: (e) => onpick(e.currentTarget),
        onkeydown: (e) => {
          if (e.key === 'Enter' || e.key === ' ') {
            e.preventDefault();
            onpick(e.currentTarget);
          }
        },
      },
      attrs || {}
    );
  }

  function markSelected(row) {
    const body = row.parentNode;
    if (body) for (const r of body.children) r.classList.toggle('selected', r === row);
  }

  // ---------------------------------------------------------------------------------------------
  // Shared state: the node report (status strip) and the guard's pending poll.
  // ---------------------------------------------------------------------------------------------

  const shared = {
    status: null,
    tokens: new Map(), // lower-case token address → {symbol, decimals}, from /status balances
    route: 'chat',
  };

  const statusBox = document.getElementById('status');

  function statusItem(label, value, test) {
    return el('span', { class: 'stat' }, el('span', { class: 'stat-label' }, label), el('span', { class: 'stat-value', test }, value));
  }

  function modelsText(models) {
    if (!Array.isArray(models) || models.length === 0) return 'none';
    const loaded = models.filter((m) => m && m.loaded).map((m) => m.id);
    if (loaded.length) return loaded.join(', ');
    return models[0].id + ' (not loaded)';
  }

  async function refreshStatus() {
    try {
      const report = await api('/status');
      shared.status = report || {};
      for (const b of shared.status.balances || []) {
        if (b && b.token) shared.tokens.set(String(b.token).toLowerCase(), { symbol: b.symbol, decimals: b.decimals });
      }
      const r = shared.status;
      const agent = r.agent;
      statusBox.replaceChildren(
        statusItem('node', r.version ? 'v' + String(r.version).replace(/^v/, '') : '—', 'status-version'),
        statusItem('chain', r.chain ? r.chain.chainId + ' · block ' + r.chain.block : 'none', 'status-chain'),
        statusItem('model', modelsText(r.models), 'status-model'),
        statusItem('agent', agent ? '#' + idText(agent.agentId) + (agent.name ? ' ' + agent.name : '') : 'not registered', 'status-agent'),
        r.uptimeSecs !== undefined ? statusItem('up', duration(r.uptimeSecs), 'status-uptime') : null
      );
    } catch (err) {
      statusBox.replaceChildren(offline(err));
    }
  }

  const guard = {
    loaded: false,
    pending: [],
    error: null,
    decided: new Set(), // ids answered here, hidden until the node stops listing them
    view: null, // the guard page's pending panel while it is shown
  };
  const badge = document.getElementById('guard-badge');
  const alertBox = document.getElementById('guard-alert');

  function visiblePending() {
    return guard.pending.filter((p) => !guard.decided.has(String(p.id)));
  }

  function updateBadge() {
    const count = visiblePending().length;
    if (guard.error && !guard.loaded) {
      badge.textContent = '–';
      badge.title = 'Guard: ' + errorText(guard.error);
      badge.className = 'badge badge-off';
    } else {
      badge.textContent = String(count);
      badge.title = count ? plural(count, 'request') + ' waiting for your confirmation' : 'No request waits for your confirmation';
      badge.className = 'badge' + (count ? ' badge-alert' : '');
    }
    document.title = count ? '(' + count + ') Confirm — agora' : 'agora';
    if (count && shared.route !== 'guard') {
      alertBox.replaceChildren(
        el('span', null, count === 1 ? 'A request waits for your confirmation. ' : count + ' requests wait for your confirmation. '),
        el('a', { href: '#guard', test: 'guard-alert-link' }, 'Open Guard')
      );
      alertBox.hidden = false;
    } else {
      alertBox.hidden = true;
    }
  }

  /** Asks for the pending confirmations every second, on every page. */
  async function pollPending() {
    try {
      const data = await api('/ui/api/guard/pending', { session: true });
      guard.pending = Array.isArray(data && data.pending) ? data.pending : [];
      guard.error = null;
      guard.loaded = true;
      const listed = new Set(guard.pending.map((p) => String(p.id)));
      for (const id of guard.decided) if (!listed.has(id)) guard.decided.delete(id);
    } catch (err) {
      guard.error = err;
    }
    updateBadge();
    if (guard.view) guard.view.sync();
    setTimeout(pollPending, 1000);
  }

  // ---------------------------------------------------------------------------------------------
  // Guard verdicts (shared by pending cards, history and the check form).
  // ---------------------------------------------------------------------------------------------

  function levelClass(level) {
    const l = String(level || '').toLowerCase();
    if (l === 'info' || l === 'low' || l === 'medium' || l === 'high' || l === 'critical') return l;
    if (l === 'warning') return 'medium';
    if (l === 'danger') return 'high';
    return 'unknown';
  }

  const isSevere = (level) => levelClass(level) === 'high' || levelClass(level) === 'critical';

  function levelBadge(level, big) {
    return el('span', { class: 'level lvl-' + levelClass(level) + (big ? ' level-big' : ''), test: 'level' }, String(level || 'unknown').toUpperCase());
  }

  function assetName(asset) {
    if (asset === null || asset === undefined) return 'ETH';
    const known = shared.tokens.get(String(asset).toLowerCase());
    return known ? el('span', { title: String(asset) }, known.symbol) : hexText(asset);
  }

  function assetAmount(change) {
    if (change.asset === null || change.asset === undefined) {
      const eth = formatUnits(change.amount, 18, 0);
      return eth === null ? String(change.amount) : eth + ' ETH';
    }
    const known = shared.tokens.get(String(change.asset).toLowerCase());
    if (known) {
      const s = formatUnits(change.amount, known.decimals, known.decimals >= 2 ? 2 : 0);
      if (s !== null) return s + ' ' + known.symbol;
    }
    const raw = toBig(change.amount);
    return (raw === null ? String(change.amount) : raw.toString()) + ' (smallest units)';
  }

  function assetTable(assets) {
    return table(assets, {
      columns: ['kind', 'asset', 'amount', 'counterparty'],
      exact: true,
      labels: { kind: 'Change' },
      class: 'assets',
      format: {
        kind: (k) => chip(String(k || '?'), 'change-' + (k || 'unknown')),
        asset: (a) => assetName(a),
        amount: (_, row) => el('span', { class: 'num' }, assetAmount(row)),
        counterparty: (c) => (c ? hexText(c) : el('span', { class: 'muted' }, 'unknown')),
      },
    });
  }

  function evidenceView(evidence) {
    if (evidence === null || evidence === undefined) return null;
    const lines = Array.isArray(evidence) ? evidence : [evidence];
    if (lines.length === 0) return null;
    return el('ul', { class: 'evidence' }, lines.map((line) => el('li', null, typeof line === 'string' ? line : compact(line))));
  }

  function findingView(f) {
    f = f || {};
    return el(
      'li',
      { class: 'finding edge-' + levelClass(f.level) },
      el('div', { class: 'finding-head' }, levelBadge(f.level), el('span', { class: 'mono muted' }, f.id || ''), el('strong', null, f.title || '')),
      f.message || f.detail ? el('p', null, f.message || f.detail) : null,
      evidenceView(f.evidence)
    );
  }

  /** A verdict: level first, then effects in words, asset changes in numbers, findings. */
  function verdictView(v) {
    v = v || {};
    const effects = Array.isArray(v.effects) ? v.effects : [];
    const assets = Array.isArray(v.assets) ? v.assets : [];
    const findings = Array.isArray(v.findings) ? v.findings : [];
    return [
      el(
        'div',
        { class: 'verdict-head' },
        levelBadge(v.level, true),
        el(
          'div',
          { class: 'verdict-meta' },
          el('div', { class: 'mono' }, v.method || 'request'),
          el('div', { class: 'muted small' }, 'checked by ' + (v.simulator || '?') + (v.elapsed_ms !== undefined ? ' in ' + v.elapsed_ms + ' ms' : ''))
        )
      ),
      v.summary ? el('p', { class: 'summary' }, el('span', { class: 'muted' }, 'Local model’s summary: '), String(v.summary)) : null,
      el('h3', null, 'What it does'),
      effects.length ? el('ul', { class: 'effects' }, effects.map((e) => el('li', null, typeof e === 'string' ? e : compact(e)))) : empty('No effects found.'),
      assets.length ? [el('h3', null, 'Asset changes'), assetTable(assets)] : null,
      el('h3', null, 'Findings'),
      findings.length ? el('ul', { class: 'findings' }, findings.map(findingView)) : empty('No findings.'),
    ];
  }

  function headline(v) {
    v = v || {};
    if (Array.isArray(v.findings) && v.findings[0]) return v.findings[0].title || v.findings[0].message || '';
    if (Array.isArray(v.effects) && v.effects[0]) return String(v.effects[0]);
    return 'no findings';
  }

  // ---------------------------------------------------------------------------------------------
  // Page: Chat. Its state lives across page changes (the stream keeps running).
  // ---------------------------------------------------------------------------------------------

  const chat = {
    view: null,
    messages: [], // the conversation sent with every turn: {role, content}
    controller: null,
  };

  /** Server-sent events: calls `onData` with each event's data; lines may arrive split. */
  function sseParser(onData) {
    let buffer = '';
    let data = [];
    function line(text) {
      if (text === '') {
        if (data.length) {
          const payload = data.join('\n');
          data = [];
          onData(payload);
        }
        return;
      }
      if (text.charAt(0) === ':') return;
      const colon = text.indexOf(':');
      const field = colon < 0 ? text : text.slice(0, colon);
      let value = colon < 0 ? '' : text.slice(colon + 1);
      if (value.charAt(0) === ' ') value = value.slice(1);
      if (field === 'data') data.push(value);
    }
    return {
      push(text) {
        buffer += text;
        for (;;) {
          const at = buffer.search(/[\r\n]/);
          if (at < 0) break;
          // A lone \r at the end may be the first half of \r\n: wait for the next read.
          if (buffer.charAt(at) === '\r' && at === buffer.length - 1) break;
          const skip = buffer.charAt(at) === '\r' && buffer.charAt(at + 1) === '\n' ? 2 : 1;
          const text = buffer.slice(0, at);
          buffer = buffer.slice(at + skip);
          line(text);
        }
      },
      end() {
        if (buffer) line(buffer.replace(/\r$/, ''));
        buffer = '';
        line('');
      },
    };
  }

  function modelLabel(m) {
    const a = (m && m.agora) || {};
    if (!a.remote) return m.id;
    const who = m.owned_by ? ' — ' + m.owned_by : '';
    const price = a.pricePerToken !== undefined ? ', ' + dollars(a.pricePerToken) + ' per token' : '';
    return m.id + who + price;
  }

  async function loadModels(select, note) {
    try {
      const data = await api('/v1/models');
      const models = (data && Array.isArray(data.data) ? data.data : []).filter((m) => m && m.id);
      const current = select.value;
      select.replaceChildren();
      for (const m of models) select.appendChild(el('option', { value: m.id }, modelLabel(m)));
      const hasAuto = models.some((m) => m.id === 'auto');
      if (!hasAuto && models.some((m) => m.agora && m.agora.remote)) {
        select.appendChild(el('option', { value: 'auto' }, 'auto — route to the best provider'));
      }
      if (!select.options.length) select.appendChild(el('option', { value: 'default' }, 'default'));
      if (current && [...select.options].some((o) => o.value === current)) select.value = current;
      note.replaceChildren();
    } catch (err) {
      if (!select.options.length) select.appendChild(el('option', { value: 'default' }, 'default'));
      note.replaceChildren(offline(err));
    }
  }

  function routeText(route, model) {
    if (!route || typeof route !== 'object') return ['Served by the local model', model ? ' (' + model + ')' : '', ', free'];
    let who = route.provider || route.agent || null;
    const agentId = route.agentId !== undefined ? route.agentId : route.agent_id;
    if (agentId !== undefined && agentId !== null) who = (who ? who + ' ' : '') + '(agent ' + idText(agentId) + ')';
    if (!who) who = 'a remote provider';
    let cost = null;
    for (const key of ['charged', 'paid', 'price', 'cost']) {
      if (route[key] !== undefined && route[key] !== null && typeof route[key] !== 'boolean' && toBig(route[key]) !== null) {
        cost = dollars(route[key]);
        break;
      }
    }
    const parts = ['Served by ', who];
    if (route.model) parts.push(' · ', String(route.model));
    parts.push(' · ', cost ? 'cost ' + cost : route.paid === false ? 'not paid' : 'cost not reported');
    if (route.latencyMs !== undefined) parts.push(' · ', route.latencyMs + ' ms');
    const failed = Array.isArray(route.failedOver) ? route.failedOver.length : Number(route.failedOver) || 0;
    if (failed) parts.push(' · after ' + plural(failed, 'provider') + ' failed');
    if (route.reexecuting) parts.push(' · being re-checked locally');
    return parts;
  }

  async function verifyAnswer(answer, button, result) {
    button.disabled = true;
    result.className = 'verify-result pending';
    result.replaceChildren('Checking…');
    try {
      const r = await api('/ui/api/receipts/verify', {
        body: { receipt: answer.receipt, messages: answer.request, text: answer.text },
      });
      if (r && r.valid) {
        result.className = 'verify-result good';
        result.replaceChildren(
          '✓ Valid receipt, signed by ',
          r.signer ? hexText(r.signer) : 'an unknown key',
          r.model ? ' · model ' + r.model : '',
          r.tokens !== undefined ? ' · ' + plural(r.tokens, 'token') : ''
        );
      } else {
        result.className = 'verify-result bad';
        result.replaceChildren('✗ Not valid: ' + ((r && r.reason) || 'no reason given'));
      }
    } catch (err) {
      result.className = 'verify-result bad';
      result.replaceChildren('✗ ', el('span', { test: 'offline' }, errorText(err)));
    } finally {
      button.disabled = false;
    }
  }

  function buildChat() {
    const select = el('select', { test: 'chat-model', id: 'chat-model', 'aria-label': 'Model' });
    const modelNote = el('div', { class: 'model-note' });
    const transcript = el('div', { class: 'transcript', test: 'chat-transcript', 'aria-live': 'polite' });
    const hint = empty('Ask the model something. Enter sends, Shift+Enter starts a new line.');
    transcript.appendChild(hint);
    const input = el('textarea', { test: 'chat-input', id: 'chat-input', rows: '3', placeholder: 'Write a message…', 'aria-label': 'Message' });
    const send = el('button', { class: 'btn btn-primary', type: 'submit', test: 'chat-send' }, 'Send');
    const stop = el('button', { class: 'btn', type: 'button', test: 'chat-stop', disabled: true }, 'Stop');
    const reset = el('button', { class: 'btn-link', type: 'button', test: 'chat-new' }, 'New conversation');

    const nearBottom = () => transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 80;
    const scrollDown = () => {
      transcript.scrollTop = transcript.scrollHeight;
    };

    function setBusy(busy) {
      send.disabled = busy;
      stop.disabled = !busy;
      reset.disabled = busy;
    }

    async function turn(content) {
      hint.remove();
      chat.messages.push({ role: 'user', content });
      const request = chat.messages.map((m) => ({ role: m.role, content: m.content }));
      const model = select.value || 'default';
      const userBubble = el('div', { class: 'msg msg-user', test: 'chat-question' }, el('div', { class: 'msg-text' }, content));
      const textNode = document.createTextNode('');
      const textBox = el('div', { class: 'msg-text' }, textNode);
      const meta = el('div', { class: 'msg-meta' }, 'Waiting for ' + model + '…');
      const problem = el('div', { class: 'msg-problem' });
      const verify = el('button', { class: 'btn btn-small', type: 'button', test: 'verify', disabled: true }, 'Verify receipt');
      const verifyResult = el('span', { class: 'verify-result', test: 'verify-result' });
      const actions = el('div', { class: 'msg-actions' }, verify, verifyResult);
      actions.hidden = true;
      const answerBox = el('div', { class: 'msg msg-answer streaming', test: 'chat-answer', 'data-done': 'false' }, textBox, problem, meta, actions);
      transcript.append(userBubble, answerBox);
      scrollDown();

      const answer = { text: '', receipt: null, route: null, model: null, request, error: null, aborted: false };
      const controller = new AbortController();
      chat.controller = controller;
      setBusy(true);

      const showProblem = (message) => {
        answer.error = message;
        problem.replaceChildren(el('span', { test: 'offline' }, message));
      };

      const onData = (data) => {
        if (data === '[DONE]') return;
        let chunk;
        try {
          chunk = JSON.parse(data);
        } catch (_) {
          return;
        }
        if (!chunk || typeof chunk !== 'object') return;
        if (chunk.error) {
          showProblem((chunk.error && chunk.error.message) || 'the model failed');
          return;
        }
        if (chunk.model && !answer.model) answer.model = chunk.model;
        const choice = Array.isArray(chunk.choices) ? chunk.choices[0] : null;
        const piece = choice && choice.delta && typeof choice.delta.content === 'string' ? choice.delta.content : '';
        if (piece) {
          const follow = nearBottom();
          answer.text += piece;
          textNode.appendData(piece);
          if (answer.text === piece) meta.textContent = 'Writing…';
          if (follow) scrollDown();
        }
        if (chunk.agora_receipt) answer.receipt = chunk.agora_receipt;
        if (chunk.agora_route) answer.route = chunk.agora_route;
      };

      try {
        let response;
        try {
          response = await fetch('/v1/chat/completions', {
            method: 'POST',
            headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'x-agora-session': SESSION },
            body: JSON.stringify({ model, messages: request, stream: true, max_tokens: 256 }),
            signal: controller.signal,
          });
        } catch (e) {
          throw unreachable(e);
        }
        if (!response.ok) {
          await readJson(response); // throws the node's message
          throw new Error('the node answered ' + response.status);
        }
        const contentType = response.headers.get('content-type') || '';
        if (!response.body || !contentType.includes('text/event-stream')) {
          // A node that answered without streaming: take the whole answer at once.
          const body = await readJson(response);
          const message = body && body.choices && body.choices[0] && body.choices[0].message;
          const text = message && typeof message.content === 'string' ? message.content : '';
          onData(JSON.stringify({ model: body && body.model, choices: [{ delta: { content: text } }], agora_receipt: body && body.agora_receipt, agora_route: body && body.agora_route }));
        } else {
          const reader = response.body.getReader();
          const decoder = new TextDecoder();
          const parser = sseParser(onData);
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            parser.push(decoder.decode(value, { stream: true }));
          }
          parser.push(decoder.decode());
          parser.end();
        }
      } catch (err) {
        if (err && err.name === 'AbortError') answer.aborted = true;
        else showProblem(answer.text ? 'the stream broke: ' + errorText(err) : errorText(err));
      } finally {
        chat.controller = null;
        setBusy(false);
      }

      // Keep the conversation consistent for the next turn.
      if (answer.text) {
        chat.messages.push({ role: 'assistant', content: answer.text });
      } else {
        chat.messages.pop();
        userBubble.classList.add('msg-unsent');
        userBubble.title = 'Not part of the conversation: it got no answer';
      }

      answerBox.classList.remove('streaming');
      if (!answer.text && !answer.error) textBox.replaceChildren(el('span', { class: 'muted' }, answer.aborted ? 'Stopped before any text.' : 'The model answered no text.'));
      if (answer.aborted) problem.replaceChildren(el('span', { class: 'muted' }, 'Stopped.'));
      if (answer.error && !answer.text) meta.replaceChildren();
      else meta.replaceChildren(...nodes(routeText(answer.route, answer.model)));

      if (answer.text) {
        actions.hidden = false;
        if (answer.receipt) {
          verify.disabled = false;
          verify.addEventListener('click', () => verifyAnswer(answer, verify, verifyResult));
        } else {
          verify.title = 'This answer came without a receipt';
          verifyResult.textContent = answer.aborted ? 'No receipt: the answer was stopped.' : 'No receipt came with this answer.';
          verifyResult.className = 'verify-result muted';
        }
      }
      answerBox.setAttribute('data-done', 'true');
      if (nearBottom()) scrollDown();
    }

    const form = el(
      'form',
      {
        class: 'composer',
        test: 'chat-form',
        onsubmit: (e) => {
          e.preventDefault();
          const content = input.value.trim();
          if (!content || chat.controller) return;
          input.value = '';
          turn(content);
        },
      },
      input,
      el('div', { class: 'composer-actions' }, send, stop)
    );

    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event('submit', { cancelable: true }));
      }
    });
    stop.addEventListener('click', () => {
      if (chat.controller) chat.controller.abort();
    });
    reset.addEventListener('click', () => {
      if (chat.controller) return;
      chat.messages = [];
      transcript.replaceChildren(hint);
    });

    loadModels(select, modelNote);

    return el(
      'div',
      { class: 'page page-chat' },
      el(
        'div',
        { class: 'chat-head' },
        el('label', { for: 'chat-model' }, 'Model'),
        select,
        el('button', { class: 'btn-link', type: 'button', onclick: () => loadModels(select, modelNote) }, 'Reload models'),
        el('span', { class: 'spacer' }),
        reset
      ),
      modelNote,
      transcript,
      form
    );
  }

  function renderChat() {
    if (!chat.view) chat.view = buildChat();
    return chat.view;
  }

  // ---------------------------------------------------------------------------------------------
  // Page: Guard.
  // ---------------------------------------------------------------------------------------------

  function pendingCard(p, onDecided) {
    const id = String(p.id);
    const v = p.verdict || {};
    const severe = isSevere(v.level);
    const message = el('p', { class: 'action-error', test: 'action-error' });
    message.hidden = true;
    const approve = el('button', { class: 'btn ' + (severe ? 'btn-danger' : 'btn-primary'), type: 'button', test: 'approve' }, severe ? 'Approve anyway' : 'Approve');
    const reject = el('button', { class: 'btn' + (severe ? ' btn-primary' : ''), type: 'button', test: 'reject' }, 'Reject');
    const asked = el('span', { class: 'muted small' }, p.asked_ms ? 'asked ' + ago(p.asked_ms) : '');

    async function decide(yes) {
      approve.disabled = true;
      reject.disabled = true;
      message.hidden = true;
      try {
        await api('/ui/api/guard/pending/' + encodeURIComponent(id), { body: { approve: yes } });
        onDecided(id);
      } catch (err) {
        message.textContent = errorText(err);
        message.hidden = false;
        approve.disabled = false;
        reject.disabled = false;
      }
    }
    approve.addEventListener('click', () => decide(true));
    reject.addEventListener('click', () => decide(false));

    const root = el(
      'article',
      { class: 'pending edge-' + levelClass(v.level), test: 'guard-pending', 'data-id': id },
      el('div', { class: 'pending-top' }, el('span', { class: 'muted small' }, 'Request #' + id), asked),
      verdictView(v),
      message,
      el('div', { class: 'decide' }, approve, reject)
    );
    root.refreshAge = () => {
      if (p.asked_ms) asked.textContent = 'asked ' + ago(p.asked_ms);
    };
    return root;
  }

  function historyList(data) {
    const checks = Array.isArray(data && data.checks) ? data.checks : [];
    const list = el('ul', { class: 'history', test: 'guard-history' });
    if (!checks.length) return [list, empty('No checks yet.')];
    for (const c of checks) {
      const v = (c && c.verdict) || {};
      list.appendChild(
        el(
          'li',
          { class: 'history-item', test: 'guard-history-item' },
          el(
            'details',
            null,
            el(
              'summary',
              null,
              el('span', { class: 'history-time' }, fmtTime(c.at_ms)),
              chip(c.decision || 'checked', 'decision-' + (c.decision || 'checked')),
              levelBadge(v.level),
              el('span', { class: 'mono small' }, v.method || ''),
              el('span', { class: 'history-headline' }, headline(v)),
              el('span', { class: 'muted small' }, 'via ' + (c.source || '?'))
            ),
            el('div', { class: 'history-verdict' }, verdictView(v))
          )
        )
      );
    }
    return list;
  }

  function listsView(data) {
    const d = data || {};
    const section = (title, rows, emptyText) => [
      el('h3', null, title + ' (' + (Array.isArray(rows) ? rows.length : 0) + ')'),
      table(Array.isArray(rows) ? rows : [], { empty: emptyText }),
    ];
    return [
      section('Contacts', d.contacts, 'No contacts.'),
      section('Trusted', d.allowed, 'Nothing trusted yet.'),
      section('Blocked', d.blocked, 'Nothing blocked.'),
    ];
  }

  /** The lists, and a form that adds an entry to one of them or removes it. */
  function listsCard() {
    const lists = card('Lists', () => api('/ui/api/guard/lists').then(listsView));
    const kind = el('select', { id: 'list-kind', test: 'list-kind' },
      el('option', { value: 'contact' }, 'Contacts'),
      el('option', { value: 'allow' }, 'Trusted'),
      el('option', { value: 'block' }, 'Blocked'));
    const entry = el('input', { id: 'list-entry', test: 'list-entry', placeholder: '0x… or a domain', autocomplete: 'off', spellcheck: 'false' });
    const label = el('input', { id: 'list-label', test: 'list-label', placeholder: 'a name (optional)', autocomplete: 'off' });
    const message = el('p', { class: 'form-message', test: 'list-message', role: 'status' });
    const send = async (remove) => {
      message.className = 'form-message';
      message.textContent = remove ? 'Removing…' : 'Adding…';
      try {
        const r = await api('/ui/api/guard/lists', { body: { list: kind.value, entry: entry.value, label: label.value, remove } });
        message.className = 'form-message good';
        message.textContent = remove ? (r && r.removed ? 'Removed.' : 'It was not on that list.') : 'Added.';
        lists.reload(true);
      } catch (err) {
        message.className = 'form-message bad';
        message.textContent = errorText(err);
      }
    };
    const add = el('button', { class: 'btn btn-primary', type: 'submit', test: 'list-add' }, 'Add');
    const remove = el('button', { class: 'btn', type: 'button', test: 'list-remove', onclick: () => send(true) }, 'Remove');
    const form = el('form', { class: 'form', test: 'list-form' },
      el('div', { class: 'field' }, el('label', { for: 'list-kind' }, 'List'), kind),
      el('div', { class: 'field' }, el('label', { for: 'list-entry' }, 'Address or domain'), entry),
      el('div', { class: 'field' }, el('label', { for: 'list-label' }, 'Name'), label),
      el('div', { class: 'actions' }, add, remove),
      message);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      send(false);
    });
    lists.root.appendChild(form);
    return lists.root;
  }

  function checkForm() {
    const field = (name, label, placeholder) => {
      const input = el('input', { name, id: 'check-' + name, test: 'check-' + name, placeholder, autocomplete: 'off', spellcheck: 'false' });
      return { input, row: el('div', { class: 'field' }, el('label', { for: 'check-' + name }, label), input) };
    };
    const from = field('from', 'From', '0x… (your account)');
    const to = field('to', 'To', '0x… (contract or recipient)');
    const data = field('data', 'Data', '0x… (calldata, optional)');
    const value = field('value', 'Value (wei)', '0 — decimal or 0x hex');
    const explain = el('input', { type: 'checkbox', id: 'check-explain', test: 'check-explain' });
    const submit = el('button', { class: 'btn btn-primary', type: 'submit', test: 'check-submit' }, 'Check');
    const result = el('div', { class: 'check-result', test: 'check-result' });

    const form = el(
      'form',
      {
        class: 'form',
        test: 'check-form',
        onsubmit: async (e) => {
          e.preventDefault();
          const tx = {};
          for (const [key, f] of [['from', from], ['to', to], ['data', data]]) {
            const s = f.input.value.trim();
            if (s) tx[key] = s;
          }
          const raw = value.input.value.trim();
          if (raw) {
            const wei = toBig(raw);
            if (wei === null || wei < 0n) {
              result.replaceChildren(el('p', { class: 'action-error' }, 'The value must be a whole number of wei (decimal or 0x hex).'));
              return;
            }
            tx.value = '0x' + wei.toString(16);
          }
          submit.disabled = true;
          result.replaceChildren(loading('Checking…'));
          try {
            const verdict = await api('/guard/check' + (explain.checked ? '?explain=true' : ''), {
              body: { method: 'eth_sendTransaction', params: [tx] },
            });
            result.replaceChildren(el('div', { class: 'pending edge-' + levelClass(verdict && verdict.level) }, verdictView(verdict)));
          } catch (err) {
            result.replaceChildren(offline(err));
          } finally {
            submit.disabled = false;
          }
        },
      },
      from.row,
      to.row,
      data.row,
      value.row,
      el('div', { class: 'field field-check' }, explain, el('label', { for: 'check-explain' }, 'Ask the local model for a plain summary')),
      el('div', { class: 'form-actions' }, submit)
    );
    return plainCard('Check a transaction', el('p', { class: 'intro' }, 'Nothing is sent: the guard simulates the transaction and says what it would do.'), form, result);
  }

  function renderGuard() {
    const list = el('div', { class: 'pending-list', test: 'guard-pending-list' });
    const status = el('div', { class: 'pending-status' }, loading());
    const cards = new Map();
    const history = card('History', () => api('/ui/api/guard/history').then(historyList), { intro: 'Newest first. Open one to see the whole verdict.' });

    const view = {
      sync() {
        if (guard.error && !guard.loaded) {
          status.replaceChildren(offline(guard.error));
          return;
        }
        const pending = visiblePending();
        const ids = new Set(pending.map((p) => String(p.id)));
        let gone = false;
        for (const [id, node] of cards) {
          if (!ids.has(id)) {
            node.remove();
            cards.delete(id);
            gone = true;
          }
        }
        for (const p of pending) {
          const id = String(p.id);
          if (!cards.has(id)) {
            const node = pendingCard(p, decided);
            cards.set(id, node);
            list.appendChild(node);
          } else {
            cards.get(id).refreshAge();
          }
        }
        if (guard.error) status.replaceChildren(offline(guard.error));
        else if (!cards.size) status.replaceChildren(empty('No request waits for your confirmation.'));
        else status.replaceChildren();
        if (gone) history.reload(true);
      },
    };

    function decided(id) {
      guard.decided.add(id);
      updateBadge();
      view.sync();
      history.reload(true);
    }

    guard.view = view;
    if (guard.loaded || guard.error) view.sync();

    return el(
      'div',
      { class: 'page page-guard' },
      el(
        'section',
        { class: 'card card-pending' },
        el('header', { class: 'card-head' }, el('h2', null, 'Waiting for you')),
        el('p', { class: 'intro' }, 'Requests from your wallet that the guard holds until you decide. This list updates every second.'),
        status,
        list
      ),
      history.root,
      checkForm(),
      listsCard()
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Page: Money.
  // ---------------------------------------------------------------------------------------------

  /** The largest of 1, 2, 5 × 10^k at or above `x`. */
  function niceCeil(x) {
    if (!(x > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(x)));
    for (const m of [1, 2, 5, 10]) if (m * p >= x) return m * p;
    return 10 * p;
  }

  function axisNumber(x) {
    if (x === 0) return '0';
    if (x >= 1) return String(Number(x.toFixed(2)));
    return String(Number(x.toPrecision(2)));
  }

  /** Earnings per day as an SVG bar chart. */
  function barChart(days) {
    const W = 640;
    const H = 220;
    const left = 64;
    const right = 12;
    const top = 12;
    const bottom = 34;
    const values = days.map((d) => {
      const b = toBig(d && d.amount);
      return b === null ? 0 : Number(b) / 1e6;
    });
    const max = niceCeil(Math.max(0, ...values));
    const plotH = H - top - bottom;
    const step = (W - left - right) / Math.max(1, days.length);
    const barW = Math.max(2, step * 0.7);
    const y = (v) => top + plotH - (v / max) * plotH;

    const root = svg('svg', { class: 'chart', viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'Earnings per day, in dUSD', test: 'earnings-chart' });
    for (const t of [0, 0.5, 1]) {
      const v = max * t;
      root.append(
        svg('line', { class: 'grid', x1: left, x2: W - right, y1: y(v), y2: y(v) }),
        svg('text', { class: 'axis', x: left - 6, y: y(v) + 4, 'text-anchor': 'end' }, axisNumber(v))
      );
    }
    days.forEach((d, i) => {
      const v = values[i];
      const h = Math.max(v > 0 ? 1 : 0, (v / max) * plotH);
      const x = left + i * step + (step - barW) / 2;
      root.append(
        svg('rect', { class: 'bar' + (v > 0 ? '' : ' bar-zero'), x, y: top + plotH - h, width: barW, height: Math.max(h, 0.5) }, svg('title', null, (d.day || '') + ': ' + dollars(d.amount)))
      );
      const every = days.length > 10 ? 2 : 1;
      if (i % every === 0 || i === days.length - 1) {
        root.append(svg('text', { class: 'axis', x: x + barW / 2, y: H - bottom + 16, 'text-anchor': 'middle' }, String(d.day || '').slice(5)));
      }
    });
    root.append(svg('text', { class: 'axis axis-unit', x: left - 6, y: H - 4, 'text-anchor': 'end' }, 'dUSD'));
    return root;
  }

  function earningsChart(data) {
    const days = Array.isArray(data && data.by_day) ? data.by_day : [];
    if (!days.length) return [empty('No earnings recorded yet.'), svg('svg', { class: 'chart', viewBox: '0 0 640 40', test: 'earnings-chart' })];
    let total = 0n;
    for (const d of days) total += toBig(d && d.amount) || 0n;
    return [
      barChart(days),
      el('p', { class: 'muted small' }, 'Last ' + plural(days.length, 'day') + ' (' + days[0].day + ' to ' + days[days.length - 1].day + '): ' + dollars(total.toString()) + ' in all.'),
    ];
  }

  function balancesTable(balances) {
    return table(Array.isArray(balances) ? balances : [], {
      columns: ['symbol', 'amount', 'token'],
      exact: true,
      labels: { symbol: 'Asset', token: 'Contract' },
      empty: 'No balances.',
      format: {
        amount: (a, row) => {
          if (String(row.symbol).toLowerCase() === 'dusd' && Number(row.decimals) === 6) return el('span', { class: 'num' }, dollars(a));
          const s = formatUnits(a, row.decimals, 0);
          return el('span', { class: 'num' }, (s === null ? String(a) : s) + ' ' + (row.symbol || ''));
        },
        token: (t) => (t ? hexText(t) : el('span', { class: 'muted' }, 'native')),
      },
    });
  }

  function statusMoney(report) {
    const r = report || {};
    const e = r.earnings;
    const p = r.paying || {};
    const total = e
      ? el('div', { class: 'figure', test: 'earnings-total' }, el('span', { class: 'figure-main' }, dollars(e.charged)), el('span', { class: 'figure-sub' }, ' charged over ' + plural(e.calls || 0, 'paid call')))
      : el('div', { class: 'figure', test: 'earnings-total' }, el('span', { class: 'figure-sub' }, 'Paid access is off on this node: it earns nothing.'));
    return [
      el('h3', null, 'Earned'),
      total,
      e
        ? facts([
            ['Claimed on chain', dollars(e.claimed)],
            ['Unclaimed', (() => {
              const c = toBig(e.charged);
              const d = toBig(e.claimed);
              return c !== null && d !== null ? dollars((c - d).toString()) : '—';
            })()],
            ['Channels paying this node', String(e.channels)],
            ['Settled exact payments', dollars(e.exactSettled)],
            r.paidUrl ? ['Paid listener', r.paidUrl] : null,
          ])
        : null,
      el('h3', null, 'Paying others'),
      facts([
        ['Channels', String(p.channels || 0)],
        ['Deposited', dollars(p.deposited)],
        ['Charged by payees', dollars(p.charged)],
        r.router ? ['Router mandate', r.router.mandate || '—'] : null,
      ]),
      el('h3', null, 'Balances'),
      r.nodeKey ? el('p', { class: 'muted small' }, 'Node key ', hexText(r.nodeKey)) : null,
      balancesTable(r.balances),
    ];
  }

  function claimBox() {
    const button = el('button', { class: 'btn', type: 'button', test: 'claim' }, 'Claim now');
    const result = el('div', { class: 'claim-result', test: 'claim-result' });
    button.addEventListener('click', async () => {
      button.disabled = true;
      result.replaceChildren(loading('Claiming…'));
      try {
        const r = (await api('/payments/claim', { body: {} })) || {};
        const txs = Array.isArray(r.transactions) ? r.transactions : [];
        result.replaceChildren(
          el(
            'p',
            { class: 'good' },
            r.channels
              ? 'Claimed ' + dollars(r.amount) + ' from ' + plural(r.channels, 'channel') + ' in ' + plural(txs.length, 'transaction') + (r.gas_used !== undefined ? ', ' + r.gas_used + ' gas' : '') + '.'
              : 'Nothing was due: no channel had anything unclaimed.'
          ),
          txs.length ? el('ul', { class: 'plain mono small' }, txs.map((t) => el('li', null, hexText(t)))) : null
        );
      } catch (err) {
        result.replaceChildren(offline(err));
      } finally {
        button.disabled = false;
      }
    });
    return el('div', { class: 'card-foot' }, button, el('span', { class: 'muted small' }, ' Claims every channel with something unclaimed now.'), result);
  }

  function mandatesTable(mandates) {
    return table(Array.isArray(mandates) ? mandates : [], {
      columns: ['name', 'budget', 'per_call', 'spent', 'left', 'payees', 'expires_at'],
      exact: true,
      labels: { per_call: 'Per call', expires_at: 'Expires' },
      empty: 'No mandates.',
      format: {
        left: (_, row) => {
          const b = toBig(row.budget);
          const s = toBig(row.spent);
          return b !== null && s !== null ? dollars((b - s).toString()) : '—';
        },
        payees: (list) => (Array.isArray(list) && list.length ? list.map((a, i) => [i ? ', ' : '', hexText(a)]) : el('span', { class: 'muted' }, 'any')),
        expires_at: (t) => (!t || Number(t) === 0 ? 'never' : fmtUnix(t)),
      },
    });
  }

  function mandateForm(onSaved) {
    const field = (name, label, attrs, help) => {
      const input = el(attrs && attrs.multiline ? 'textarea' : 'input', Object.assign({ name, id: 'mandate-' + name, test: 'mandate-' + name, autocomplete: 'off' }, attrs && attrs.input));
      return { input, row: el('div', { class: 'field' }, el('label', { for: 'mandate-' + name }, label), input, help ? el('span', { class: 'help' }, help) : null) };
    };
    const name = field('name', 'Name', { input: { placeholder: 'e.g. research' } });
    const budget = field('budget', 'Budget (dUSD)', { input: { inputmode: 'decimal', placeholder: '5.00' } });
    const perCall = field('per-call', 'Per call (dUSD)', { input: { inputmode: 'decimal', placeholder: '0.01' } });
    const payees = field('payees', 'Payees', { multiline: true, input: { rows: '3', placeholder: '0x…, 0x… (empty: any)' } }, 'Addresses, separated by commas or new lines.');
    const expires = field('expires', 'Expires in', { input: { placeholder: '2h, 7d (empty: never)' } });
    const save = el('button', { class: 'btn btn-primary', type: 'submit', test: 'mandate-save' }, 'Save mandate');
    const message = el('p', { class: 'form-message', test: 'mandate-message', role: 'status' });

    const form = el(
      'form',
      {
        class: 'form',
        test: 'mandate-form',
        novalidate: true,
        onsubmit: async (e) => {
          e.preventDefault();
          const body = {
            name: name.input.value.trim(),
            budget: budget.input.value.trim(),
            per_call: perCall.input.value.trim(),
            payees: payees.input.value.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean),
            expires_in: expires.input.value.trim(),
          };
          save.disabled = true;
          message.className = 'form-message';
          message.textContent = 'Saving…';
          try {
            const r = await api('/ui/api/mandates', { body });
            const m = (r && r.mandate) || {};
            message.className = 'form-message good';
            message.textContent = 'Saved mandate “' + (m.name || body.name) + '”' + (m.budget !== undefined ? ', budget ' + dollars(m.budget) : '') + '.';
            onSaved();
          } catch (err) {
            message.className = 'form-message bad';
            message.textContent = errorText(err);
          } finally {
            save.disabled = false;
          }
        },
      },
      name.row,
      budget.row,
      perCall.row,
      payees.row,
      expires.row,
      el('div', { class: 'form-actions' }, save),
      message
    );
    return plainCard('New or changed mandate', el('p', { class: 'intro' }, 'A mandate caps what this node may pay: in all, per call, to whom and until when. Saving a name that exists replaces it.'), form);
  }

  function renderMoney() {
    let moneyRequest = null;
    const money = (fresh) => {
      if (fresh || !moneyRequest) moneyRequest = api('/ui/api/money');
      return moneyRequest;
    };
    const summary = card('Earnings and balances', () => api('/status').then(statusMoney), { footer: claimBox() });
    const chart = card('Earned per day', (fresh) => money(fresh).then(earningsChart));
    const channels = card('Channels', (fresh) =>
      money(fresh).then((d) => [
        el('h3', null, 'Paying this node'),
        table(d && d.channels, { empty: 'No channel pays this node.' }),
        el('h3', null, 'This node pays through'),
        table(d && d.paying, { empty: 'This node pays through no channel.' }),
      ])
    );
    const claims = card('Next claims', (fresh) =>
      money(fresh).then((d) => [
        el('p', { class: 'intro' },
          'The settler claims on chain every ' + ((d && d.settle_every_secs) || '?') + ' s what a channel owes once it reaches ' +
          dollars((d && d.claim_threshold) || '0') + ', or at once when its payer is closing it.'),
        table(d && d.next_claims, {
          empty: 'Nothing unclaimed.',
          columns: ['channel', 'unclaimed', 'when'],
          exact: true,
          labels: { channel: 'Channel', unclaimed: 'Unclaimed', when: 'Claimed' },
          format: { unclaimed: (v) => dollars(v), channel: (v) => hexText(v) },
        }),
      ])
    );
    const credits = card('Credits bought', (fresh) =>
      money(fresh).then((d) =>
        table(d && d.credits, {
          empty: 'No anonymous credits bought (agora credits buy URL).',
          columns: ['id', 'provider', 'status', 'calls', 'remaining', 'exit_at'],
          exact: true,
          labels: { id: 'Credit', provider: 'Provider', status: 'State', calls: 'Calls', remaining: 'Left', exit_at: 'Exit at' },
          format: { exit_at: (v) => (v ? new Date(v * 1000).toLocaleString() : '—') },
        })
      )
    );
    const mandates = card('Mandates', (fresh) => money(fresh).then((d) => mandatesTable(d && d.mandates)));
    return el(
      'div',
      { class: 'page page-money' },
      el('div', { class: 'grid-2' }, summary.root, chart.root),
      el('div', { class: 'grid-2' }, claims.root, credits.root),
      channels.root,
      mandates.root,
      mandateForm(() => mandates.reload(true))
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Page: Agents.
  // ---------------------------------------------------------------------------------------------

  function ownAgent(report) {
    const a = report && report.agent;
    if (!a) return empty('This node has no agent registered on chain yet.');
    const cardUrl = safeUrl(a.cardUrl);
    return facts([
      ['Agent id', idText(a.agentId)],
      ['Name', a.name || '—'],
      ['Registry', el('span', { class: 'mono small wrap' }, a.registry || '—')],
      ['Agent card', cardUrl ? el('a', { href: cardUrl, target: '_blank', rel: 'noopener noreferrer' }, cardUrl) : a.cardUrl || 'no public URL'],
      report.nodeKey ? ['Wallet (node key)', hexText(report.nodeKey)] : null,
    ]);
  }

  function agentIdOf(a) {
    return a ? (a.agent_id !== undefined ? a.agent_id : a.agentId !== undefined ? a.agentId : a.id) : undefined;
  }

  function reputationText(rep) {
    if (!rep) return 'No reputation summary.';
    const count = Number(rep.count) || 0;
    const trusted = Number(rep.trusted_raters) || 0;
    const left = Number(rep.untrusted_raters_left_out) || 0;
    const parts = [];
    parts.push(count ? plural(count, 'rating') + ' from ' + plural(trusted, 'trusted rater') + ', average ' + trimDecimal(rep.average, 2) + '.' : 'No rating from a trusted rater yet.');
    if (left) parts.push(' ' + plural(left, 'rater') + ' left out because nothing says ' + (left === 1 ? 'it' : 'they') + ' can be trusted.');
    return parts.join('');
  }

  function agentDetail(data) {
    const a = (data && data.agent) || {};
    const reg = a.registration;
    return [
      el('h3', null, (a.name || 'Agent') + ' #' + idText(agentIdOf(a))),
      a.description ? el('p', null, a.description) : null,
      el('p', { class: 'reputation', test: 'agent-reputation' }, reputationText(data && data.reputation)),
      facts([
        ['Owner', a.owner ? hexText(a.owner) : '—'],
        ['Wallet', a.wallet ? hexText(a.wallet) : 'none'],
        ['Active', a.active === null || a.active === undefined ? 'not stated' : a.active ? 'yes' : 'no'],
        ['Skills', Array.isArray(a.skills) && a.skills.length ? a.skills.join(', ') : 'none listed'],
        ['Registration URI', el('span', { class: 'mono small wrap' }, a.uri || '—')],
        a.fetch_error ? ['Could not read its file', el('span', { class: 'bad' }, a.fetch_error)] : null,
      ]),
      reg ? el('details', null, el('summary', null, 'Registration file'), el('pre', { class: 'json' }, JSON.stringify(reg, null, 2))) : null,
    ];
  }

  function agentsIndex(data, detail) {
    const agents = Array.isArray(data && data.agents) ? data.agents : [];
    if (!agents.length) return empty('The index holds no agents yet.');
    const filter = el('input', { type: 'search', class: 'filter', placeholder: 'Filter by name, skill or id', 'aria-label': 'Filter agents', test: 'agents-filter' });
    const holder = el('div');
    const show = () => {
      const q = filter.value.trim().toLowerCase();
      const rows = q ? agents.filter((a) => JSON.stringify([agentIdOf(a), a.name, a.description, a.skills]).toLowerCase().includes(q)) : agents;
      holder.replaceChildren(
        table(rows, {
          columns: ['agent_id', 'name', 'description', 'skills', 'active', 'wallet'],
          exact: true,
          labels: { agent_id: 'Id' },
          empty: 'No agent matches.',
          format: {
            agent_id: (_, row) => idText(agentIdOf(row)),
            name: (n, row) => n || el('span', { class: 'muted' }, row.fetch_error ? 'unreadable file' : 'unnamed'),
            description: (d) => (d ? (String(d).length > 90 ? String(d).slice(0, 89) + '…' : String(d)) : el('span', { class: 'muted' }, '—')),
          },
          rowAttrs: (row) => clickableRow((tr) => {
            markSelected(tr);
            detail(idText(agentIdOf(row)));
          }, { test: 'agent-row', 'data-id': idText(agentIdOf(row)) }),
        })
      );
    };
    filter.addEventListener('input', show);
    show();
    return [filter, holder, el('p', { class: 'muted small' }, plural(agents.length, 'agent') + '. Pick one to see its reputation.')];
  }

  function feedbackRows(rows) {
    return (Array.isArray(rows) ? rows : []).map((r) => {
      if (!r || typeof r !== 'object') return r;
      const out = Object.assign({}, r);
      if (r.value !== undefined && r.decimals !== undefined) {
        const v = formatUnits(r.value, r.decimals, 0);
        if (v !== null) {
          out.value = v;
          delete out.decimals;
        }
      }
      return out;
    });
  }

  function renderAgents() {
    const detailBody = el('div', { class: 'card-body' });
    const detailCard = el('section', { class: 'card', test: 'agent-detail' }, el('header', { class: 'card-head' }, el('h2', null, 'Agent')), detailBody);
    detailCard.hidden = true;
    let currentId = null;
    // The raters whose feedback counts: kept in this browser, sent with each reputation query.
    const TRUST_KEY = 'agora.trustedRaters';
    const trustInput = el('input', { id: 'trust-raters', test: 'trust-raters', placeholder: '0x…, 0x… (raters you trust)', autocomplete: 'off', spellcheck: 'false' });
    try {
      trustInput.value = window.localStorage.getItem(TRUST_KEY) || '';
    } catch (e) {
      trustInput.value = '';
    }
    const trusted = () =>
      trustInput.value.split(/[\s,]+/).map((a) => a.trim()).filter((a) => /^0x[0-9a-fA-F]{40}$/.test(a));
    const fillDetail = filler(detailBody, () => {
      const list = trusted();
      const query = list.length ? '?trust=' + encodeURIComponent(list.join(',')) : '';
      return api('/agents/' + encodeURIComponent(currentId) + query).then(agentDetail);
    });
    trustInput.addEventListener('change', () => {
      try {
        window.localStorage.setItem(TRUST_KEY, trusted().join(', '));
      } catch (e) {
        /* private mode: kept for this page only */
      }
      if (currentId !== null) fillDetail(true);
    });
    const trustCard = plainCard(
      'Raters you trust',
      el('p', { class: 'intro' }, 'Reputation counts only feedback from these addresses (and the job evaluator’s); everyone else’s is left out and counted.'),
      el('div', { class: 'field' }, el('label', { for: 'trust-raters' }, 'Addresses'), trustInput)
    );
    const detail = (id) => {
      currentId = id;
      detailCard.hidden = false;
      detailBody.replaceChildren();
      fillDetail(true);
    };
    const feedback = card('Feedback', () =>
      api('/ui/api/feedback').then((d) => [
        el('h3', null, 'Given by this node'),
        table(feedbackRows(d && d.given), { empty: 'None given.' }),
        el('h3', null, 'Received'),
        table(feedbackRows(d && d.received), { empty: 'None received.' }),
      ])
    );
    return el(
      'div',
      { class: 'page page-agents' },
      card('This node’s agent', () => api('/status').then(ownAgent)).root,
      card('Agents in the index', () => api('/agents').then((d) => agentsIndex(d, detail))).root,
      trustCard,
      detailCard,
      feedback.root
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Page: Markets.
  // ---------------------------------------------------------------------------------------------

  function outcomeNames(market) {
    const n = Number(market && market.outcomes) || (Array.isArray(market && market.prices) ? market.prices.length : 2);
    if (n === 2) return ['YES', 'NO'];
    return Array.from({ length: n }, (_, i) => 'Outcome ' + i);
  }

  function pricesText(market) {
    const names = outcomeNames(market);
    const prices = Array.isArray(market.prices) ? market.prices : [];
    return prices.map((p, i) => (names[i] || 'Outcome ' + i) + ' ' + pct(p)).join(' · ') || '—';
  }

  function marketState(m) {
    const state = String(m.state || 'unknown');
    const bits = [chip(state, 'state-' + state)];
    if (m.outcome !== null && m.outcome !== undefined) bits.push(' ', el('span', { class: 'small' }, 'answer: ' + (outcomeNames(m)[m.outcome] || m.outcome)));
    return bits;
  }

  /** Prices over time as an SVG line chart: YES for a binary market, every outcome otherwise. */
  function lineChart(points, market) {
    const W = 640;
    const H = 240;
    const left = 44;
    const right = 14;
    const top = 12;
    const bottom = 34;
    const useTime = points.every((p) => Number(p.time) > 0);
    points = points.filter((p) => Number.isFinite(Number(useTime ? p.time : p.block)));
    if (!points.length) return empty('The price history has no times or blocks to plot.');
    const xs = points.map((p) => Number(useTime ? p.time : p.block));
    let x0 = Math.min(...xs);
    let x1 = Math.max(...xs);
    if (x0 === x1) {
      x0 -= 1;
      x1 += 1;
    }
    const x = (v) => left + ((v - x0) / (x1 - x0)) * (W - left - right);
    const y = (p) => top + (1 - Math.min(1, Math.max(0, p))) * (H - top - bottom);
    const names = outcomeNames(market);
    const count = Math.max(...points.map((p) => (Array.isArray(p.prices) ? p.prices.length : 0)), 1);
    const binary = (Number(market && market.outcomes) || count) === 2;
    const series = binary ? [0] : Array.from({ length: Math.max(count, Number(market && market.outcomes) || 0) }, (_, i) => i);

    const root = svg('svg', { class: 'chart', viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'Prices over time', test: 'market-chart' });
    for (const t of [0, 0.25, 0.5, 0.75, 1]) {
      root.append(
        svg('line', { class: 'grid' + (t === 0.5 ? ' grid-mid' : ''), x1: left, x2: W - right, y1: y(t), y2: y(t) }),
        svg('text', { class: 'axis', x: left - 6, y: y(t) + 4, 'text-anchor': 'end' }, Math.round(t * 100) + '%')
      );
    }
    const label = (v) => (useTime ? new Date(v * 1000).toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }) : 'block ' + v);
    root.append(
      svg('text', { class: 'axis', x: left, y: H - 10, 'text-anchor': 'start' }, label(Math.min(...xs))),
      svg('text', { class: 'axis', x: W - right, y: H - 10, 'text-anchor': 'end' }, label(Math.max(...xs)))
    );
    for (const s of series) {
      const pts = points
        .map((p, i) => [xs[i], Array.isArray(p.prices) ? Number(p.prices[s]) : NaN])
        .filter(([, p]) => Number.isFinite(p));
      if (!pts.length) continue;
      if (pts.length === 1) pts.push([x1, pts[0][1]]);
      // A step line: a price holds until the next trade.
      let d = 'M' + x(pts[0][0]).toFixed(1) + ' ' + y(pts[0][1]).toFixed(1);
      for (let i = 1; i < pts.length; i++) d += ' H' + x(pts[i][0]).toFixed(1) + ' V' + y(pts[i][1]).toFixed(1);
      root.append(svg('path', { class: 'line series-' + (s % 6), d }, svg('title', null, names[s] || 'Outcome ' + s)));
      const last = pts[pts.length - 1];
      root.append(svg('circle', { class: 'dot series-' + (s % 6), cx: x(last[0]), cy: y(last[1]), r: 3.5 }, svg('title', null, (names[s] || 'Outcome ' + s) + ': ' + pct(last[1]))));
    }
    const legend = el(
      'div',
      { class: 'legend' },
      series.map((s) => el('span', { class: 'legend-item' }, el('span', { class: 'swatch series-' + (s % 6) }), names[s] || 'Outcome ' + s))
    );
    return [root, legend];
  }

  function marketChart(market, data) {
    const points = (Array.isArray(data && data.points) ? data.points : []).filter((p) => p && Array.isArray(p.prices));
    return [
      el('h3', null, market.text || 'Market #' + market.id),
      el('p', { class: 'muted small' }, 'Now: ' + pricesText(market)),
      points.length ? lineChart(points, market) : [empty('No price history yet.'), svg('svg', { class: 'chart', viewBox: '0 0 640 40', test: 'market-chart' })],
    ];
  }

  function marketsList(data, pick, selectedId) {
    const markets = Array.isArray(data && data.markets) ? data.markets : [];
    if (!markets.length) return empty('No markets yet.');
    const view = table(markets, {
      columns: ['id', 'text', 'prices', 'state'],
      exact: true,
      labels: { text: 'Question', prices: 'Prices' },
      format: {
        text: (t, m) => [t || '—', m.fact ? [' ', chip('fact', 'fact')] : null],
        prices: (_, m) => pricesText(m),
        state: (_, m) => marketState(m),
      },
      rowAttrs: (m) => clickableRow((tr) => {
        markSelected(tr);
        pick(m);
      }, { test: 'market-row', 'data-id': String(m.id) }),
    });
    // Keep the market picked before a refresh; otherwise show the first.
    const index = Math.max(0, markets.findIndex((m) => selectedId !== null && String(m.id) === selectedId));
    const row = view.querySelectorAll('tbody tr')[index];
    if (row) row.classList.add('selected');
    pick(markets[index]);
    return view;
  }

  function decisionsTable(data) {
    const decisions = Array.isArray(data && data.decisions) ? data.decisions : [];
    return table(decisions, {
      columns: ['id', 'metric', 'status', 'pass_price', 'fail_price', 'pass_twap', 'fail_twap', 'threshold_bps', 'end'],
      labels: { threshold_bps: 'Threshold', pass_twap: 'Pass TWAP', fail_twap: 'Fail TWAP' },
      empty: 'No decisions yet.',
      format: {
        status: (s) => chip(String(s || '?'), 'status-' + (s || 'unknown')),
        pass_price: (v) => num(v),
        fail_price: (v) => num(v),
        pass_twap: (v) => num(v),
        fail_twap: (v) => num(v),
        threshold_bps: (v) => (v === null || v === undefined ? '—' : num(Number(v) / 100) + '%'),
        end: (v) => (Number(v) > 1e9 ? fmtUnix(v) : v === null || v === undefined ? '—' : 'block ' + v),
      },
    });
  }

  function renderMarkets() {
    const chartBody = el('div', { class: 'card-body' });
    let selected = null;
    const fillChart = filler(chartBody, () => {
      const market = selected;
      return api('/ui/api/markets/' + encodeURIComponent(market.id) + '/history').then((d) => marketChart(market, d));
    });
    const pick = (m) => {
      selected = m;
      fillChart(true);
    };
    chartBody.appendChild(empty('Pick a market to see its prices over time.'));
    return el(
      'div',
      { class: 'page page-markets' },
      card('Markets', () => api('/ui/api/markets').then((d) => marketsList(d, pick, selected ? String(selected.id) : null))).root,
      el('section', { class: 'card' }, el('header', { class: 'card-head' }, el('h2', null, 'Price history')), chartBody),
      card('Decisions', () => api('/ui/api/decisions').then(decisionsTable), { intro: 'Futarchy decisions: the proposal passes when the pass market’s time-weighted price beats the fail market’s by the threshold.' }).root
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Page: Jobs (a read-only list).
  // ---------------------------------------------------------------------------------------------

  function renderJobs() {
    return el(
      'div',
      { class: 'page page-jobs' },
      card('Jobs', () => api('/ui/api/jobs').then((d) => table(d && d.jobs, { empty: 'No jobs yet.' })), { intro: 'Verifiable inference jobs this node took part in.' }).root
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Page: Funding (the rounds; a juror answers and reveals the round's pairwise questions).
  // ---------------------------------------------------------------------------------------------

  const DEADLINE_NAMES = ['Submissions', 'Reveals', 'Jury answers', 'Jury reveals'];

  function deadlinesList(list) {
    if (!Array.isArray(list) || list.length === 0) return el('span', { class: 'muted' }, '—');
    return el(
      'ul',
      { class: 'plain small' },
      list.map((t, i) => el('li', null, (DEADLINE_NAMES[i] || 'Deadline ' + (i + 1)) + ': ' + (Number(t) > 0 ? fmtUnix(t) : '—')))
    );
  }

  /** The jury panel under the rounds: the questions form of one round, or its reveal. */
  function juryPanel() {
    const title = el('h2', null, 'Jury');
    const body = el('div', { class: 'card-body' });
    const root = el('section', { class: 'card', test: 'jury-panel', hidden: true }, el('header', { class: 'card-head' }, title), body);
    const show = (id, what, ...content) => {
      title.textContent = 'Round ' + idText(id) + ': ' + what;
      body.replaceChildren(...nodes(content));
      root.hidden = false;
      root.scrollIntoView({ block: 'nearest' });
    };
    return { root, show };
  }

  function juryMessage(text, kind) {
    return el('p', { class: 'form-message' + (kind ? ' ' + kind : ''), test: 'jury-message', role: 'status' }, text || '');
  }

  function setMessage(message, text, kind) {
    message.className = 'form-message' + (kind ? ' ' + kind : '');
    message.textContent = text;
  }

  /** One compare question: which of the two edges deserves more, and how many times more. */
  function compareQuestion(asked, i) {
    const q = asked.question;
    const name = 'jury-q' + i + '-more';
    const choice = (edge, label) => {
      const input = el('input', { type: 'radio', name, id: name + '-' + edge, value: String(edge), test: 'jury-choice', 'data-edge': String(edge) });
      return { input, row: el('div', { class: 'field-check' }, input, el('label', { for: name + '-' + edge }, label)) };
    };
    const first = choice(q.a, 'first (edge ' + q.a + ') deserves more');
    const second = choice(q.b, 'second (edge ' + q.b + ') deserves more');
    const timesId = 'jury-q' + i + '-times';
    const times = el('input', { type: 'number', id: timesId, min: '1', max: '999', step: '0.01', value: '1', inputmode: 'decimal', test: 'jury-times' });
    const root = el(
      'fieldset',
      { class: 'jury-question', test: 'jury-question', 'data-kind': 'compare' },
      el('legend', null, 'Question ' + (i + 1)),
      el('p', { class: 'jury-text' }, asked.text || 'edge ' + q.a + ' or edge ' + q.b + ': which deserves more, and how many times more?'),
      el('div', { class: 'jury-choices' }, first.row, second.row),
      el('div', { class: 'field' }, el('label', { for: timesId }, 'Times more'), times, el('span', { class: 'help' }, '1 to 999 (1 = as much as the other).'))
    );
    const answer = () => {
      const t = Number(times.value);
      if (times.value.trim() === '' || !Number.isFinite(t) || t < 1 || t > 999) throw new Error('Question ' + (i + 1) + ': “times more” is 1 to 999.');
      const centi = Math.round(t * 100);
      let more;
      if (first.input.checked) more = q.a;
      else if (second.input.checked) more = q.b;
      else if (centi === 100) more = q.b; // as much as each other: either order says the same
      else throw new Error('Question ' + (i + 1) + ': choose which of the two deserves more.');
      return { kind: 'compare', less: more === q.a ? q.b : q.a, more, times_centi: centi };
    };
    return { root, answer };
  }

  /** One originality question: what percent of the node's credit is its own. */
  function originalityQuestion(asked, i) {
    const q = asked.question;
    const id = 'jury-q' + i + '-percent';
    const percent = el('input', { type: 'number', id, min: '1', max: '99', step: '1', value: '50', inputmode: 'numeric', test: 'jury-percent' });
    const root = el(
      'fieldset',
      { class: 'jury-question', test: 'jury-question', 'data-kind': 'originality' },
      el('legend', null, 'Question ' + (i + 1)),
      el('p', { class: 'jury-text' }, asked.text || 'node ' + q.node + ': what percentage of its value is its own work?'),
      el('div', { class: 'field' }, el('label', { for: id }, 'Own work (%)'), percent, el('span', { class: 'help' }, '1 to 99 percent.'))
    );
    const answer = () => {
      const p = Number(percent.value);
      if (percent.value.trim() === '' || !Number.isFinite(p) || Math.round(p) < 1 || Math.round(p) > 99) throw new Error('Question ' + (i + 1) + ': the percentage is 1 to 99.');
      return { kind: 'originality', node: q.node, percent: Math.round(p) };
    };
    return { root, answer };
  }

  /** The form for a juror's questions; it commits the answers in the order of the questions. */
  function juryForm(id, questions) {
    if (!Array.isArray(questions) || questions.length === 0) return empty('No question was drawn for this node in this round.');
    const parts = questions.map((asked, i) => {
      const kind = asked && asked.question && asked.question.kind;
      if (kind === 'compare') return compareQuestion(asked, i);
      if (kind === 'originality') return originalityQuestion(asked, i);
      return { root: el('p', { class: 'bad' }, 'Question ' + (i + 1) + ' is of a kind this page does not know: ' + compact(asked)), answer: null };
    });
    const submit = el('button', { class: 'btn btn-primary', type: 'submit', test: 'jury-submit' }, 'Commit answers');
    const message = juryMessage();
    return el(
      'form',
      {
        class: 'form jury-form',
        test: 'jury-form',
        novalidate: true,
        onsubmit: async (e) => {
          e.preventDefault();
          let answers;
          try {
            if (parts.some((p) => !p.answer)) throw new Error('This page cannot answer every question of this round.');
            answers = parts.map((p) => p.answer());
          } catch (err) {
            setMessage(message, errorText(err), 'bad');
            return;
          }
          submit.disabled = true;
          setMessage(message, 'Committing…');
          try {
            const r = (await api('/ui/api/funding/' + encodeURIComponent(id) + '/answers', { body: { answers } })) || {};
            const n = r.committed !== undefined ? r.committed : answers.length;
            setMessage(message, 'Committed ' + plural(n, 'answer') + '; reveal them when the jury\'s reveal period opens.', 'good');
          } catch (err) {
            setMessage(message, errorText(err), 'bad');
          } finally {
            submit.disabled = false;
          }
        },
      },
      el('p', { class: 'intro' }, 'For each pair, choose the dependency that deserves more and say how many times more. The answers are committed now (hidden) and revealed later.'),
      parts.map((p) => p.root),
      el('div', { class: 'form-actions' }, submit),
      message
    );
  }

  /** What this node can do as a juror of `round`: a button, or a short muted line. */
  function juryCell(round, panel) {
    if (!round || !round.is_juror) return el('span', { class: 'muted small' }, 'This node is not a juror.');
    const id = round.id;
    // Jurors may answer once submissions have closed: during the solvers' reveals (the first
    // juror to ask draws the sample) and the jury's own period.
    if (round.phase === 'jury answering' || round.phase === 'reveals open') {
      const open = el('button', { class: 'btn btn-small', type: 'button', test: 'jury-open', 'data-id': String(id) }, 'Answer as juror');
      open.addEventListener('click', async () => {
        open.disabled = true;
        panel.show(id, 'your questions', loading('Drawing the questions…'));
        try {
          const d = await api('/ui/api/funding/' + encodeURIComponent(id) + '/questions', { body: {} });
          panel.show(id, 'your questions', juryForm(id, d && d.questions));
        } catch (err) {
          panel.show(id, 'your questions', offline(err));
        } finally {
          open.disabled = false;
        }
      });
      return open;
    }
    if (round.phase === 'jury revealing') {
      const reveal = el('button', { class: 'btn btn-small', type: 'button', test: 'jury-reveal', 'data-id': String(id) }, 'Reveal my answers');
      reveal.addEventListener('click', async () => {
        reveal.disabled = true;
        const message = juryMessage('Revealing…');
        panel.show(id, 'reveal', message);
        try {
          const r = (await api('/ui/api/funding/' + encodeURIComponent(id) + '/reveal', { body: {} })) || {};
          setMessage(message, 'Revealed your answers' + (r.gas !== undefined ? ' (' + r.gas + ' gas)' : '') + '.', 'good');
        } catch (err) {
          setMessage(message, errorText(err), 'bad');
          reveal.disabled = false;
        }
      });
      return reveal;
    }
    return el('span', { class: 'muted small' }, 'Juror' + (/^(submissions|reveals) open$/.test(String(round.phase)) ? ': the questions come in the jury phase.' : '.'));
  }

  function roundsTable(d, panel) {
    return table(d && d.rounds, {
      columns: ['id', 'phase', 'next', 'pool', 'submissions', 'jurors', 'deadlines', 'jury'],
      exact: true,
      labels: { id: 'Round', jury: 'Jury' },
      empty: 'No funding rounds yet.',
      format: {
        phase: (v) => (v ? chip(String(v)) : el('span', { class: 'muted' }, '—')),
        deadlines: deadlinesList,
        jury: (_, row) => juryCell(row, panel),
      },
      rowAttrs: (row) => ({ test: 'funding-row', 'data-id': row && row.id !== undefined ? String(row.id) : null }),
    });
  }

  function renderFunding() {
    const panel = juryPanel();
    return el(
      'div',
      { class: 'page page-funding' },
      card('Funding rounds', () => api('/ui/api/funding').then((d) => roundsTable(d, panel)), { intro: 'Deep-funding rounds: projects submit dependency weights, a jury answers pairwise questions, the result splits the pool.' }).root,
      panel.root
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Router.
  // ---------------------------------------------------------------------------------------------

  const PAGES = {
    chat: renderChat,
    guard: renderGuard,
    money: renderMoney,
    agents: renderAgents,
    markets: renderMarkets,
    jobs: renderJobs,
    funding: renderFunding,
  };

  const main = document.getElementById('main');

  function route() {
    const wanted = location.hash.replace(/^#\/?/, '').split(/[/?]/)[0];
    const name = Object.prototype.hasOwnProperty.call(PAGES, wanted) ? wanted : 'chat';
    shared.route = name;
    if (name !== 'guard') guard.view = null;
    for (const link of document.querySelectorAll('#nav a[data-page]')) {
      const active = link.getAttribute('data-page') === name;
      link.classList.toggle('active', active);
      if (active) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    let page;
    try {
      page = PAGES[name]();
    } catch (err) {
      page = offline(err);
    }
    main.replaceChildren(page);
    updateBadge();
    if (name === 'chat') {
      const input = main.querySelector('[data-test="chat-input"]');
      if (input) input.focus();
    }
  }

  function start() {
    window.addEventListener('hashchange', route);
    route();
    refreshStatus();
    setInterval(refreshStatus, 10000);
    pollPending();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
