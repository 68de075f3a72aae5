// SPDX-License-Identifier: MIT
// The demo page: an API explorer built from /_/commands, live counters over the
// `counters` topic, and live statistics from /_/stats. Everything goes through
// one wsrouter.js client, exposed as `window.wsr` for the console.
import { WsRouter } from './wsrouter.js';

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
    h('td', { class: 'num' }, r.p99_ms.toFixed(3)))) : [h('tr', {}, h('td', { colspan: '5', class: 'muted' }, 'No calls yet.'))]));
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
