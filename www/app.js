// SPDX-License-Identifier: MIT
// The demo page: an API explorer built from /_/commands, live counters over the
// `counters` topic, live statistics from /_/stats, and an admin view behind a
// login with the admin role. Everything goes through one wsrouter.js client,
// exposed as `window.wsr` for the console.
import { WsRouter } from './wsrouter.js';
import { quantile, fmtUs } from './latency.js';

const $ = (sel) => document.querySelector(sel);

/** Creates an element: h('li', {class: 'x', onclick: fn}, 'text', child). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

// The server: this page's own, unless ?ws=ws://host:port/ says otherwise.
const wsUrl = new URLSearchParams(location.search).get('ws') || '/';
const client = new WsRouter(wsUrl, { reconnectDelay: 300, reconnectMaxDelay: 5000, queueSize: 50 });
window.wsr = client;

// ---- connection state ---------------------------------------------------------------

const conn = $('#conn');
const connText = $('#conn-text');
const connInfo = $('#conn-info');

function showState(state, extra = '') {
  conn.dataset.state = state;
  const label = { connecting: 'Connecting…', open: 'Connected', reconnecting: 'Reconnecting…', closed: 'Disconnected' }[state];
  connText.textContent = label + extra;
  document.body.dataset.conn = state;
}

client.addEventListener('statechange', (ev) => showState(ev.detail.state));
client.addEventListener('reconnecting', (ev) => {
  const s = (ev.detail.delay / 1000).toFixed(1);
  showState(client.state, ` (attempt ${ev.detail.attempt}, next in ${s} s)`);
  connInfo.textContent = `${client.url} · ${client.queued} request(s) waiting`;
});
client.addEventListener('open', async (ev) => {
  showState('open');
  connInfo.textContent = `${client.url} · ${ev.detail.protocol || 'no subprotocol'}`;
  loadCommands();
  loadCounters();
  pollStats();
  pollAdmin();
  try {
    const ms = await client.ping({ timeout: 3000 });
    connInfo.textContent = `${client.url} · ${ev.detail.protocol || 'no subprotocol'} · ping ${ms.toFixed(1)} ms`;
  } catch { /* shown by the state */ }
});
showState(client.state);

// ---- JSON display -------------------------------------------------------------------

/** Fills `pre` with `value` as indented JSON, its tokens in spans for colour. */
function showJson(pre, value) {
  const text = value === undefined ? '' : JSON.stringify(value, null, 2);
  pre.replaceChildren();
  const re = /("(?:\\.|[^"\\])*")(\s*:)?|\b(true|false)\b|\b(null)\b|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;
  let last = 0;
  for (let m; (m = re.exec(text));) {
    if (m.index > last) pre.append(text.slice(last, m.index));
    if (m[1]) {
      pre.append(h('span', { class: m[2] ? 'j-key' : 'j-str' }, m[1]));
      if (m[2]) pre.append(m[2]);
    } else if (m[3]) pre.append(h('span', { class: 'j-bool' }, m[3]));
    else if (m[4]) pre.append(h('span', { class: 'j-null' }, m[4]));
    else pre.append(h('span', { class: 'j-num' }, m[5]));
    last = re.lastIndex;
  }
  pre.append(text.slice(last));
}

// ---- the API explorer ---------------------------------------------------------------

let commands = [];
let current = null; // the selected route
const routeList = $('#route-list');
const form = $('#request-form');
const paramsBox = $('#params');
const methodSel = $('#method');
const urlInput = $('#url');
const dataInput = $('#data');

async function loadCommands() {
  try {
    commands = await client.get('/_/commands');
  } catch (e) {
    routeList.replaceChildren(h('li', { class: 'error small' }, `Could not list the routes: ${e.detail}`));
    return;
  }
  routeList.setAttribute('aria-busy', 'false');
  renderRoutes();
  if (current) {
    const again = commands.find((c) => c.name === current.name);
    if (again) selectRoute(again.name, false);
  } else if (commands.length) {
    selectRoute((commands.find((c) => c.name === 'add') || commands[0]).name, false);
  }
}

function renderRoutes() {
  const q = $('#route-filter').value.trim().toLowerCase();
  const shown = commands.filter((c) => !q || c.name.toLowerCase().includes(q) || (c.url || '').toLowerCase().includes(q));
  routeList.replaceChildren(...shown.map((c) => h('li', {},
    h('button', {
      type: 'button',
      class: 'route',
      'data-route': c.name,
      'aria-pressed': String(current?.name === c.name),
      onclick: () => selectRoute(c.name, true),
    },
    h('span', { class: 'route-name' }, c.name),
    h('span', { class: 'route-url' }, c.url || '(cmd only)'),
    h('span', { class: 'route-methods' }, ...c.methods.map((m) => h('span', { class: `m m-${m.toLowerCase()}` }, m)))))));
  if (!shown.length) routeList.append(h('li', { class: 'muted small' }, 'No route matches.'));
}

$('#route-filter').addEventListener('input', renderRoutes);

/** The input for one declared parameter, by its type. */
function paramField(p) {
  const id = `param-${p.name}`;
  const hintId = `${id}-hint`;
  const errId = `${id}-error`;
  const def = p.default === undefined ? undefined : JSON.stringify(p.default);
  const describedBy = `${hintId} ${errId}`;
  let input;
  switch (p.type) {
    case 'int':
    case 'number':
      input = h('input', { id, type: 'number', step: p.type === 'int' ? '1' : 'any', inputmode: p.type === 'int' ? 'numeric' : 'decimal', placeholder: def ? `default ${def}` : '', 'aria-describedby': describedBy });
      break;
    case 'bool':
      input = h('input', { id, type: 'checkbox', checked: p.default === true, 'aria-describedby': describedBy });
      input.addEventListener('change', () => { input.dataset.touched = '1'; });
      break;
    case 'object':
    case 'array':
    case 'any':
      input = h('textarea', { id, rows: '2', spellcheck: 'false', placeholder: def ? `default ${def}` : (p.type === 'array' ? '[1, 2, 3]' : p.type === 'object' ? '{"key": "value"}' : 'any JSON value'), 'aria-describedby': describedBy });
      break;
    default:
      input = h('input', { id, type: 'text', autocomplete: 'off', placeholder: def ? `default ${def}` : '', 'aria-describedby': describedBy });
  }
  input.dataset.param = p.name;
  input.dataset.type = p.type;
  if (p.required) input.setAttribute('aria-required', 'true');
  const where = p.in === 'path' ? 'path' : 'args';
  const label = h('label', { for: id },
    h('span', { class: 'pname' }, p.name),
    h('span', { class: `ptype t-${p.type}` }, p.type),
    p.required ? h('span', { class: 'req' }, 'required') : h('span', { class: 'opt' }, 'optional'),
    h('span', { class: 'pin muted small' }, where));
  const hint = h('p', { id: hintId, class: 'hint small' }, p.doc || '');
  const err = h('p', { id: errId, class: 'error small', hidden: true });
  return h('div', { class: `field param ${p.type === 'bool' ? 'is-bool' : ''}` }, label, input, hint, err);
}

async function selectRoute(name, focus) {
  const route = commands.find((c) => c.name === name);
  if (!route) return;
  const same = current && current.name === route.name;
  current = route;
  for (const b of routeList.querySelectorAll('button.route')) b.setAttribute('aria-pressed', String(b.dataset.route === name));
  $('#route-title').textContent = route.name;
  $('#route-doc').textContent = route.doc || '';
  if (!same) {
    methodSel.replaceChildren(...route.methods.map((m) => h('option', { value: m }, m)));
    paramsBox.replaceChildren(...(route.params.length
      ? [h('h4', { class: 'small-h' }, 'Parameters'), ...route.params.map(paramField)]
      : [h('p', { class: 'muted small' }, 'This route declares no parameters.')]));
    dataInput.value = '';
  }
  const cmdOnly = !route.url;
  form.elements.mode[0].disabled = cmdOnly;
  if (cmdOnly) form.elements.mode[1].checked = true;
  $('#send').disabled = false;
  updatePreview();
  if (focus) (paramsBox.querySelector('input, textarea') || $('#send')).focus();
  // The full description carries each parameter's doc.
  try {
    const help = await client.get('/_/help', { command: name });
    if (current !== route) return;
    for (const p of help.params || []) {
      const hint = document.getElementById(`param-${p.name}-hint`);
      if (hint && p.doc) hint.textContent = p.doc;
    }
    if (help.doc) $('#route-doc').textContent = help.doc;
  } catch { /* the list's doc stays */ }
}

/** Reads the form: {message, code}, or throws (marking the bad fields when `mark`). */
function buildMessage(mark = false) {
  if (!current) throw new Error('no route');
  const mode = form.elements.mode.value;
  const args = {};
  const path = {};
  let bad = false;
  for (const input of paramsBox.querySelectorAll('[data-param]')) {
    const name = input.dataset.param;
    const type = input.dataset.type;
    const err = document.getElementById(`param-${name}-error`);
    const fail = (text) => {
      bad = true;
      if (!mark) return;
      err.textContent = text;
      err.hidden = false;
      input.setAttribute('aria-invalid', 'true');
    };
    if (mark) {
      err.hidden = true;
      input.removeAttribute('aria-invalid');
    }
    let value;
    if (type === 'bool') {
      const p = current.params.find((x) => x.name === name);
      if (!p.required && !input.dataset.touched) continue;
      value = input.checked;
    } else {
      const raw = input.value.trim();
      if (raw === '') continue; // the server applies the default, or says it is required
      if (type === 'int' || type === 'number') {
        value = Number(raw);
        if (!Number.isFinite(value)) { fail('not a number'); continue; }
        if (type === 'int' && !Number.isInteger(value)) { fail('must be a whole number'); continue; }
      } else if (type === 'object' || type === 'array' || type === 'any') {
        try {
          value = JSON.parse(raw);
        } catch {
          fail('not valid JSON');
          continue;
        }
      } else {
        value = input.value;
      }
    }
    const p = current.params.find((x) => x.name === name);
    if (p && p.in === 'path') path[name] = value;
    else args[name] = value;
  }
  let data;
  const dataErr = $('#data-error');
  if (mark) {
    dataErr.hidden = true;
    dataInput.removeAttribute('aria-invalid');
  }
  if (dataInput.value.trim() !== '') {
    try {
      data = JSON.parse(dataInput.value);
    } catch {
      bad = true;
      if (mark) {
        dataErr.textContent = 'data is not valid JSON';
        dataErr.hidden = false;
        dataInput.setAttribute('aria-invalid', 'true');
      }
    }
  }
  if (bad) throw new Error('invalid fields');

  const message = {};
  let url = '';
  if (mode === 'cmd' || !current.url) {
    message.cmd = current.name;
    const all = { ...path, ...args };
    if (Object.keys(all).length) message.args = all;
  } else {
    message.method = methodSel.value;
    url = current.url.replace(/\{(\w+)(?::\w+)?\}/g, (whole, name) =>
      (path[name] !== undefined ? encodeURIComponent(String(path[name])) : whole));
    message.url = url;
    if (Object.keys(args).length) message.args = args;
  }
  if (data !== undefined) message.data = data;
  return { message, code: snippet(message) };
}

function snippet(m) {
  const j = (v) => JSON.stringify(v);
  const args = m.args ? j(m.args) : 'undefined';
  if (m.cmd) return `await wsr.call(${j(m.cmd)}${m.args || m.data !== undefined ? `, ${args}` : ''}${m.data !== undefined ? `, { data: ${j(m.data)} }` : ''});`;
  const method = m.method.toLowerCase();
  if (method === 'get' || method === 'delete') {
    return `await wsr.${method}(${j(m.url)}${m.args ? `, ${args}` : ''}${m.data !== undefined ? `${m.args ? '' : ', undefined'}, { data: ${j(m.data)} }` : ''});`;
  }
  if (['post', 'put', 'patch'].includes(method)) {
    const data = m.data !== undefined ? j(m.data) : 'undefined';
    return `await wsr.${method}(${j(m.url)}${m.data !== undefined || m.args ? `, ${data}` : ''}${m.args ? `, ${args}` : ''});`;
  }
  return `await wsr.request(${j(m)});`;
}

function updatePreview() {
  const mode = form.elements.mode.value;
  methodSel.disabled = mode === 'cmd';
  $('#target-label').textContent = mode === 'cmd' ? 'Command' : 'URL';
  try {
    const { message, code } = buildMessage();
    urlInput.value = message.cmd ?? message.url;
    showJson($('#preview'), message);
    $('#snippet').textContent = code;
  } catch {
    $('#snippet').textContent = '';
  }
}

form.addEventListener('input', updatePreview);
form.addEventListener('change', updatePreview);

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  let built;
  try {
    built = buildMessage(true);
  } catch {
    form.querySelector('[aria-invalid="true"]')?.focus();
    return;
  }
  const status = $('#reply-status');
  const time = $('#reply-time');
  const body = $('#reply-body');
  const send = $('#send');
  send.disabled = true;
  status.dataset.kind = 'wait';
  status.textContent = client.state === 'open' ? 'waiting…' : 'queued until connected…';
  time.textContent = '';
  const timeout = Number($('#timeout').value) || 0;
  const t0 = performance.now();
  try {
    const reply = await client.fetch(built.message, { timeout });
    const ms = performance.now() - t0;
    status.dataset.kind = reply.status < 300 ? 'ok' : reply.status < 500 ? 'warn' : 'bad';
    status.textContent = `${reply.status} ${reasons[reply.status] || ''}`.trim();
    time.textContent = `${ms.toFixed(1)} ms`;
    showJson(body, reply);
  } catch (e) {
    const ms = performance.now() - t0;
    status.dataset.kind = 'local';
    status.textContent = `${e.status} ${e.code || ''} (on the client)`;
    time.textContent = `${ms.toFixed(1)} ms`;
    showJson(body, { status: e.status, code: e.code, detail: e.detail });
  } finally {
    send.disabled = false;
  }
});

const reasons = {
  200: 'OK', 201: 'Created', 202: 'Accepted', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden',
  404: 'Not Found', 405: 'Method Not Allowed', 408: 'Request Timeout', 422: 'Unprocessable Entity',
  429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable',
};

// ---- counters -----------------------------------------------------------------------

const counters = new Map();
const counterList = $('#counter-list');

function renderCounter(key, value, flash) {
  let li = counterList.querySelector(`li[data-key="${CSS.escape(key)}"]`);
  if (value === null) {
    counters.delete(key);
    if (li) li.remove();
  } else {
    counters.set(key, value);
    if (!li) {
      li = h('li', { 'data-key': key },
        h('span', { class: 'ckey' }, key),
        h('output', { class: 'cvalue', 'aria-label': `${key} value` }),
        h('span', { class: 'cbtns' },
          h('button', { type: 'button', class: 'icon', 'aria-label': `Decrement ${key}`, title: 'Subtract one', onclick: () => change('decrement', key) }, '−'),
          h('button', { type: 'button', class: 'icon', 'aria-label': `Increment ${key}`, title: 'Add one', onclick: () => change('increment', key) }, '+'),
          h('button', { type: 'button', class: 'icon danger', 'aria-label': `Remove ${key}`, title: 'Remove', onclick: () => change('rem', key) }, '×')));
      const after = [...counterList.children].find((x) => x.dataset.key > key);
      counterList.insertBefore(li, after || null);
    }
    const out = li.querySelector('output');
    out.textContent = String(value);
    if (flash) {
      li.classList.remove('flash');
      void li.offsetWidth; // restart the animation
      li.classList.add('flash');
    }
  }
  $('#counters-empty').hidden = counters.size > 0;
}

async function change(cmd, key) {
  const err = $('#counter-error');
  err.hidden = true;
  try {
    await client.call(cmd, { key }); // the publication updates every tab, this one too
  } catch (e) {
    err.textContent = `${cmd} ${key}: ${e.detail}`;
    err.hidden = false;
  }
}

async function loadCounters() {
  try {
    const all = await client.get('/counters');
    for (const key of [...counters.keys()]) if (!(key in all)) renderCounter(key, null);
    for (const [key, value] of Object.entries(all)) renderCounter(key, value, false);
  } catch { /* shown by the state; retried at the next open */ }
}

client.subscribe('counters', ({ key, value }) => renderCounter(key, value, true)).catch((e) => {
  const err = $('#counter-error');
  err.textContent = `Could not subscribe to counters: ${e.detail}`;
  err.hidden = false;
});

$('#counter-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const input = $('#counter-key');
  const key = input.value.trim();
  if (!key) {
    input.focus();
    return;
  }
  change('increment', key);
  input.value = '';
});

// ---- live statistics ----------------------------------------------------------------

let statsBusy = false;
let statsAt = 0;

function fmtUptime(s) {
  const d = Math.floor(s / 86400);
  const hh = Math.floor((s % 86400) / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = Math.floor(s % 60);
  return d ? `${d}d ${hh}h ${mm}m` : hh ? `${hh}h ${mm}m ${ss}s` : mm ? `${mm}m ${ss}s` : `${ss}s`;
}
const fmt = (n) => (typeof n === 'number' ? n.toLocaleString('en') : '–');

function renderStats(s) {
  $('#st-uptime').textContent = fmtUptime(s.uptime_s || 0);
  $('#st-conns').textContent = fmt(s.connections?.open);
  const byStatus = s.requests?.by_status || {};
  $('#st-requests').textContent = fmt(s.requests?.total);
  const errors = Object.entries(byStatus).filter(([k]) => Number(k) >= 400).reduce((a, [, v]) => a + v, 0);
  $('#st-errors').textContent = fmt(errors);
  $('#st-messages').textContent = `${fmt(s.messages?.in)} / ${fmt(s.messages?.out)}`;
  $('#st-pushes').textContent = fmt(s.pushes?.sent);

  const total = Object.values(byStatus).reduce((a, b) => a + b, 0) || 1;
  $('#st-status').replaceChildren(...Object.entries(byStatus).sort(([a], [b]) => a - b).map(([code, n]) => {
    const kind = code < 300 ? 'ok' : code < 500 ? 'warn' : 'bad';
    return h('li', { class: `bar b-${kind}` },
      h('span', { class: 'bar-label' }, code),
      h('span', { class: 'bar-track', 'aria-hidden': 'true' }, h('span', { class: 'bar-fill', style: `width:${Math.max(2, (100 * n) / total).toFixed(1)}%` })),
      h('span', { class: 'bar-n' }, fmt(n)));
  }));

  const routes = Object.entries(s.routes || {}).filter(([, r]) => r.count > 0).sort(([, a], [, b]) => b.count - a.count).slice(0, 8);
  $('#st-routes tbody').replaceChildren(...(routes.length ? routes.map(([name, r]) => h('tr', {},
    h('th', { scope: 'row' }, name),
    h('td', { class: 'num' }, fmt(r.count)),
    h('td', { class: 'num' }, fmt(r.errors)),
    h('td', { class: 'num' }, r.mean_ms.toFixed(3)),
    h('td', { class: 'num' }, quantileText(r, 0.99)))) : [h('tr', {}, h('td', { colspan: '5', class: 'muted' }, 'No calls yet.'))]));
}

async function pollStats() {
  if (statsBusy || client.state !== 'open') return;
  statsBusy = true;
  try {
    renderStats(await client.get('/_/stats', undefined, { timeout: 4000 }));
    statsAt = Date.now();
    $('#stats').dataset.fresh = 'true';
  } catch { /* the next tick tries again */ } finally {
    statsBusy = false;
  }
}

setInterval(() => {
  pollStats();
  if (statsAt) {
    const age = Math.round((Date.now() - statsAt) / 1000);
    $('#stats-age').textContent = age > 4 ? `Last update ${age} s ago.` : '';
    if (age > 4) $('#stats').dataset.fresh = 'false';
  }
}, 2000);


// ---- the admin view -----------------------------------------------------------------

/** A route's q-quantile from its histogram, as the bound it is ("≤ 33 ms"). */
function quantileText(r, q) {
  const hist = r.latency_us?.buckets;
  const maxUs = typeof r.max_ms === 'number' ? Math.round(r.max_ms * 1000) : undefined;
  const got = Array.isArray(hist) ? quantile(hist, q, maxUs) : null;
  return got ? got.text : '–';
}

/** The slowest call: a measurement (whole µs), shown to two figures, rounded up. */
function fmtMax(ms) {
  if (typeof ms !== 'number') return '–';
  const us = Math.round(ms * 1000);
  return us < 1 ? '< 1 µs' : fmtUs(us);
}

const admin = {
  user: null, // who logged in here, or null
  isAdmin: false,
  busy: false,
  at: 0, // when the view was last refreshed (ms)
  prev: null, // { at, counts: {route: count} } of the refresh before
};
const adminBox = $('#admin');

function fmtBytes(n) {
  if (typeof n !== 'number') return '–';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  for (; v >= 1024 && i < units.length - 1; i++) v /= 1024;
  return `${v.toFixed(1)} ${units[i]}`;
}

function showAdminError(text) {
  const err = $('#admin-error');
  err.textContent = text || '';
  err.hidden = !text;
}

/** Shows the login form, the refusal or the view, from what `admin` says. */
function renderAdminState() {
  $('#admin-login').hidden = admin.user !== null;
  $('#admin-session').hidden = admin.user === null;
  $('#admin-who').textContent = admin.user || '';
  const refused = $('#admin-refused');
  refused.hidden = admin.user === null || admin.isAdmin;
  refused.textContent = admin.user !== null && !admin.isAdmin
    ? `The admin view needs the admin role, which ${admin.user} does not have.` : '';
  $('#admin-view').hidden = !admin.isAdmin;
}

$('#admin-login').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const user = $('#admin-user');
  const pass = $('#admin-pass');
  if (!user.value.trim() || !pass.value) {
    showAdminError('Give a username and a password.');
    (user.value.trim() ? pass : user).focus();
    return;
  }
  showAdminError('');
  try {
    const got = await client.login(user.value.trim(), pass.value, { timeout: 5000 });
    pass.value = '';
    admin.user = got.user || user.value.trim();
    admin.isAdmin = Array.isArray(got.roles) && got.roles.includes('admin');
    admin.prev = null;
    renderAdminState();
    pollAdmin();
  } catch (e) {
    showAdminError(`Login failed: ${e.detail || e.message}`);
  }
});

$('#admin-logout').addEventListener('click', async () => {
  try {
    await client.logout({ timeout: 5000 });
  } catch { /* the token is forgotten either way */ }
  client.token = undefined;
  admin.user = null;
  admin.isAdmin = false;
  renderAdminState();
  showAdminError('');
});

async function disconnect(id) {
  try {
    await client.call('admin_disconnect', { id }, { timeout: 5000 });
    showAdminError('');
  } catch (e) {
    showAdminError(`Could not disconnect ${id}: ${e.detail}`);
  }
  pollAdmin(true);
}

function renderConnections(list) {
  const rows = [...list.connections].sort((a, b) => a.id - b.id).map((c) => h('tr', { 'data-id': String(c.id), 'data-self': c.self ? 'true' : null },
    h('td', { class: 'mono' }, String(c.id)),
    h('td', { class: 'mono' }, c.address),
    h('td', {}, c.user ?? h('span', { class: 'muted' }, 'anonymous')),
    h('td', {}, `${c.transport}${c.tls ? ' (TLS)' : ''}${c.protocol === 'jsonrpc2.0' ? ', JSON-RPC' : ''}`),
    h('td', { class: 'mono subs' }, c.subscriptions.length ? c.subscriptions.join(', ') : h('span', { class: 'muted' }, 'none')),
    h('td', { class: 'num' }, fmtBytes(c.bytes_in)),
    h('td', { class: 'num' }, fmtBytes(c.bytes_out)),
    h('td', { class: 'num' }, fmtUptime(c.connected_s)),
    h('td', {}, c.self ? h('span', { class: 'small muted' }, 'this page')
      : h('button', { type: 'button', class: 'danger', 'aria-label': `Disconnect connection ${c.id}`, onclick: () => disconnect(c.id) }, 'Disconnect'))));
  $('#ad-conns tbody').replaceChildren(...(rows.length ? rows : [h('tr', {}, h('td', { colspan: '9', class: 'muted' }, 'No connections.'))]));
  $('#ad-conns-note').textContent = list.truncated ? `Showing ${list.connections.length} of ${list.total}.` : '';
}

function renderTopics(t) {
  const rows = Object.entries(t.topics).sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1)).map(([name, n]) => h('tr', { 'data-topic': name },
    h('th', { scope: 'row' }, name), h('td', { class: 'num' }, fmt(n))));
  $('#ad-topics tbody').replaceChildren(...(rows.length ? rows : [h('tr', {}, h('td', { colspan: '2', class: 'muted' }, 'No topic has a subscriber.'))]));
  $('#ad-ntopics').textContent = fmt(t.total);
}

function renderAdminStats(s, now) {
  const e = s.engine || {};
  $('#ad-engine').textContent = e.kind || '–';
  const st = $('#ad-engine-state');
  st.textContent = e.state || '–';
  st.dataset.state = e.state || '';
  const more = [];
  if (e.node !== undefined) more.push(`node ${e.node}`);
  if (e.reconnects !== undefined) more.push(`${fmt(e.reconnects)} reconnection(s)`);
  if (e.received !== undefined) more.push(`${fmt(e.received)} message(s) received from the engine`);
  $('#ad-engine-more').textContent = more.join(' · ');
  $('#ad-open').textContent = fmt(s.connections?.open);

  const counts = {};
  const dt = admin.prev ? (now - admin.prev.at) / 1000 : 0;
  const routes = Object.entries(s.routes || {}).filter(([, r]) => r.count > 0).sort(([, a], [, b]) => b.count - a.count);
  const rows = routes.map(([name, r]) => {
    counts[name] = r.count;
    const before = admin.prev?.counts[name] ?? 0;
    const rate = dt > 0 ? ((r.count - before) / dt).toFixed(1) : '–';
    return h('tr', { 'data-route': name },
      h('th', { scope: 'row' }, name),
      h('td', { class: 'num' }, fmt(r.count)),
      h('td', { class: 'num' }, rate),
      h('td', { class: 'num' }, fmt(r.errors)),
      h('td', { class: 'num p50' }, quantileText(r, 0.5)),
      h('td', { class: 'num p90' }, quantileText(r, 0.9)),
      h('td', { class: 'num p99' }, quantileText(r, 0.99)),
      h('td', { class: 'num max' }, fmtMax(r.max_ms)));
  });
  $('#ad-routes tbody').replaceChildren(...(rows.length ? rows : [h('tr', {}, h('td', { colspan: '8', class: 'muted' }, 'No calls yet.'))]));
  admin.prev = { at: now, counts };
}

/** Refreshes the admin view (every 2 s while an admin is logged in here). */
async function pollAdmin(force = false) {
  if (!admin.isAdmin || client.state !== 'open' || (admin.busy && !force)) return;
  admin.busy = true;
  try {
    const [conns, topics, stats] = await Promise.all([
      client.call('admin_connections', undefined, { timeout: 4000 }),
      client.call('admin_topics', undefined, { timeout: 4000 }),
      client.call('stats', undefined, { timeout: 4000 }),
    ]);
    const now = Date.now();
    renderConnections(conns);
    renderTopics(topics);
    renderAdminStats(stats, now);
    admin.at = now;
    adminBox.dataset.fresh = 'true';
  } catch (e) {
    if (e.status === 401 || e.status === 403) {
      // The session lost its role or its login (logged out elsewhere, expired).
      admin.isAdmin = false;
      if (e.status === 401) admin.user = null;
      renderAdminState();
      showAdminError(e.detail);
    }
  } finally {
    admin.busy = false;
  }
}

setInterval(() => {
  pollAdmin();
  if (admin.isAdmin && admin.at) {
    const age = Math.round((Date.now() - admin.at) / 1000);
    $('#admin-age').textContent = age > 4 ? `Last update ${age} s ago.` : '';
    if (age > 4) adminBox.dataset.fresh = 'false';
  }
}, 2000);
renderAdminState();
