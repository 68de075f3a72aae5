// SPDX-License-Identifier: MIT
// End to end in a real headless Chromium (Debian's `chromium` package, driven by
// playwright-core; playwright's own browser download is not used): wsrouterd serves
// www/ and the WebSocket on one port; the demo page connects, the API explorer sends
// requests, the counters demo stays in step across two pages, the client library
// runs with the browser's own WebSocket, the admin view lists and disconnects
// connections for an admin and refuses anyone else, and the page reconnects after
// a restart.
// A screenshot is kept in tests/artifacts/ for people to look at.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { chromium } from 'playwright-core';
import { WSRD, startServer, connect, withTimeout } from './harness.mjs';
import { WsRouter } from '../../www/wsrouter.js';
import { quantile } from '../../www/latency.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const SOURCE = process.env.WSR_SOURCE_DIR ?? join(HERE, '..', '..');
const WWW = join(SOURCE, 'www');
const ARTIFACTS = join(SOURCE, 'tests', 'artifacts');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let srv;
let context;
let userDataDir;
let storeDir; // the first server's store, with an admin and a plain user
const PW = { alice: 'alice-admin-pass-1', bob: 'bob-plain-pass-22' };
let page;
let node; // a Node client of the same server
const problems = []; // console errors, page errors, requests that leave the server

function base() {
  return `http://127.0.0.1:${srv.port}`;
}

/** A new page on the demo, watched for errors and for requests to anywhere else. */
async function openDemo() {
  const p = await context.newPage();
  p.setDefaultTimeout(10000);
  p.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  p.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  p.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith(`${base()}/`) && !url.startsWith('data:')) problems.push(`request outside the server: ${url}`);
  });
  await p.goto(`${base()}/`);
  await p.locator('#conn[data-state="open"]').waitFor();
  await p.locator('#route-list button.route').first().waitFor();
  return p;
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  storeDir = mkdtempSync(join(tmpdir(), 'wsrd-browser-store-'));
  const store = join(storeDir, 'wsrouter.db');
  for (const [name, roles] of [['alice', ['--role', 'admin']], ['bob', []]]) {
    const r = spawnSync(WSRD, ['user', 'add', name, ...roles, '--store', store],
      { input: `${PW[name]}\n`, encoding: 'utf8', timeout: 30000 });
    assert.equal(r.status, 0, r.stderr);
  }
  srv = await startServer(['--store', store, '--modules', 'all', '--www', WWW]);
  userDataDir = mkdtempSync(join(tmpdir(), 'wsrd-chromium-'));
  // playwright passes --user-data-dir itself for a persistent context: a fresh one.
  context = await withTimeout(chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
    timeout: 20000,
  }), 30000, 'Chromium to start');
  node = await WsRouter.connect(`${srv.url}/`, { WebSocket });
  page = await openDemo();
});

after(async () => {
  const steps = [
    () => node && node.close(),
    () => context && withTimeout(context.close(), 15000, 'Chromium to close'),
    () => srv && srv.stop(),
  ];
  for (const step of steps) {
    try {
      await step();
    } catch (e) {
      console.error('cleanup:', e.message);
    }
  }
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  if (storeDir) rmSync(storeDir, { recursive: true, force: true });
});

test('the demo is served by wsrouterd, connects, and lists every route', async () => {
  assert.equal(await page.title(), 'wsrouter · demo and API explorer');
  assert.equal((await page.locator('#conn-text').textContent()).trim(), 'Connected');
  assert.match(await page.locator('#conn-info').textContent(), /wsrouter\.v1/);
  const commands = await node.get('/_/commands');
  const shown = await page.locator('#route-list button.route').evaluateAll((bs) => bs.map((b) => b.dataset.route));
  assert.deepEqual(shown, commands.map((c) => c.name));
  await page.locator('#route-filter').fill('counters/');
  assert.equal(await page.locator('#route-list button.route').count(),
    commands.filter((c) => (c.url || '').includes('counters/')).length);
  await page.locator('#route-filter').fill('');
});

test('the explorer builds a form from the declared types and shows the reply', async () => {
  // add: two numbers, by method and URL.
  await page.locator('button.route[data-route="add"]').click();
  assert.equal(await page.locator('#param-x').getAttribute('type'), 'number');
  assert.equal(await page.locator('#param-x').getAttribute('step'), 'any');
  await page.locator('#param-x').fill('2');
  await page.locator('#param-y').fill('3.5');
  await page.locator('#method').selectOption('POST');
  await page.locator('#send').click();
  const status = page.locator('#reply-status');
  await page.locator('#reply-status[data-kind="ok"]').waitFor();
  assert.equal(await status.textContent(), '200 OK');
  assert.match(await page.locator('#reply-time').textContent(), /^\d+\.\d ms$/);
  const body = JSON.parse(await page.locator('#reply-body').textContent());
  assert.equal(body.status, 200);
  assert.equal(body.data, 5.5);
  assert.deepEqual(JSON.parse(await page.locator('#preview').textContent()),
    { method: 'POST', url: '/math/add', args: { x: 2, y: 3.5 } });

  // A missing parameter: the server's 422 is shown with its errors.
  await page.locator('#param-y').fill('');
  await page.locator('#send').click();
  await page.locator('#reply-status[data-kind="warn"]').waitFor();
  assert.equal(await status.textContent(), '422 Unprocessable Entity');
  assert.deepEqual(JSON.parse(await page.locator('#reply-body').textContent()).errors, { y: 'is required' });

  // Path parameters go into the URL, percent-encoded.
  await page.locator('button.route[data-route="hello_user"]').click();
  await page.locator('#param-user').fill('Jürgen M');
  await page.locator('#param-id').fill('7');
  assert.equal(await page.locator('#url').inputValue(), '/hello/J%C3%BCrgen%20M/7');
  await page.locator('#send').click();
  await page.locator('#reply-body', { hasText: 'Hello, Jürgen M with ID=7' }).waitFor();

  // By command name, with an array parameter (a textarea of JSON) and an int (step 1).
  await page.locator('button.route[data-route="sum"]').click();
  assert.equal(await page.locator('#param-digits').evaluate((e) => e.tagName), 'TEXTAREA');
  await page.locator('#param-digits').fill('[1, 2, 39]');
  await page.getByLabel('command name').check();
  assert.equal(await page.locator('#url').inputValue(), 'sum');
  await page.locator('#send').click();
  await page.locator('#reply-body', { hasText: '"sum": 42' }).waitFor();
  assert.match(await page.locator('#snippet').textContent(), /^await wsr\.call\("sum", \{"digits":\[1,2,39\]\}\);$/);
  await page.locator('button.route[data-route="later"]').click();
  assert.equal(await page.locator('#param-ms').getAttribute('step'), '1');

  // A JSON data field that is not JSON is refused on the page, not sent.
  await page.locator('button.route[data-route="echo"]').click();
  await page.getByLabel('method and URL').check();
  await page.locator('#data').fill('{"a": [1, "ü"]}');
  await page.locator('#method').selectOption('PUT');
  await page.locator('#send').click();
  await page.locator('#reply-body', { hasText: '"ü"' }).waitFor();
  assert.deepEqual(JSON.parse(await page.locator('#reply-body').textContent()).data, { a: [1, 'ü'] });
  await page.locator('#data').fill('{nope');
  await page.locator('#send').click();
  await page.locator('#data-error', { hasText: 'not valid JSON' }).waitFor();
  assert.equal(await page.locator('#data').getAttribute('aria-invalid'), 'true');
  await page.locator('#data').fill('');
});

test('the counters demo stays in step across two pages', async () => {
  const other = await openDemo();
  try {
    const row = (p, key) => p.locator(`#counter-list li[data-key="${key}"]`);
    const value = (p, key) => row(p, key).locator('output');

    // Changed in the first page, seen in the second.
    await page.locator('#counter-key').fill('browser-visits');
    await page.getByRole('button', { name: 'Add one' }).click();
    await value(other, 'browser-visits').filter({ hasText: /^1$/ }).waitFor();

    // Changed in the second, seen in the first.
    await other.getByRole('button', { name: 'Increment browser-visits' }).click();
    await other.getByRole('button', { name: 'Increment browser-visits' }).click();
    await value(page, 'browser-visits').filter({ hasText: /^3$/ }).waitFor();
    await page.getByRole('button', { name: 'Decrement browser-visits' }).click();
    await value(other, 'browser-visits').filter({ hasText: /^2$/ }).waitFor();

    // Changed by a program outside the browser, seen in both.
    await node.call('set', { key: 'apples', value: 12 });
    await node.call('increment', { key: 'zebras' });
    for (const p of [page, other]) {
      await value(p, 'apples').filter({ hasText: /^12$/ }).waitFor();
      await value(p, 'zebras').filter({ hasText: /^1$/ }).waitFor();
      assert.deepEqual(await p.locator('#counter-list li').evaluateAll((ls) => ls.map((l) => l.dataset.key)),
        ['apples', 'browser-visits', 'zebras'], 'sorted by name');
    }
    await other.getByRole('button', { name: 'Remove zebras' }).click();
    await row(page, 'zebras').waitFor({ state: 'detached' });
    assert.deepEqual(await node.get('/counters'), { apples: 12, 'browser-visits': 2 });
  } finally {
    await other.close();
  }
});

test('live statistics are polled and shown; a screenshot is kept', async () => {
  const requests = page.locator('#st-requests');
  await page.waitForFunction(() => /^\d[\d,]*$/.test(document.querySelector('#st-requests').textContent));
  const first = Number((await requests.textContent()).replace(/,/g, ''));
  await node.call('ping');
  await page.waitForFunction((n) => Number(document.querySelector('#st-requests').textContent.replace(/,/g, '')) > n,
    first, { timeout: 6000 });
  assert.ok(await page.locator('#st-routes tbody tr').count() >= 3);
  assert.ok(await page.locator('#st-status li').count() >= 1);
  assert.match(await page.locator('#st-conns').textContent(), /^\d+$/);

  mkdirSync(ARTIFACTS, { recursive: true });
  await page.locator('button.route[data-route="add"]').click();
  await page.locator('#param-x').fill('2');
  await page.locator('#param-y').fill('3.5');
  await page.locator('#send').click();
  await page.locator('#reply-status[data-kind="ok"]').waitFor();
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(ARTIFACTS, 'browser-demo.png'), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: join(ARTIFACTS, 'browser-demo-narrow.png'), fullPage: true });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the narrow page scrolls sideways by ${overflow}px`);
  await page.setViewportSize({ width: 1280, height: 900 });
});

test('the client library runs in the browser with its native WebSocket', async () => {
  const got = await page.evaluate(async () => {
    const { WsRouter, WsRouterError } = await import('/wsrouter.js');
    const out = {};
    const c = await WsRouter.connect('/', { encoding: 'base64' });
    try {
      out.protocol = c.protocol;
      out.url = c.url;
      out.echo = await c.post('/echo', { s: 'Jürgen ✓ 😀 \u2028' });
      out.sum = await c.call('add', { x: 20, y: 22 });
      const ticks = [];
      c.on('tick', (d) => ticks.push(d.seq));
      await c.post('/diag/push', null, { count: 3, event: 'tick' });
      await c.call('ping');
      out.ticks = ticks;
      try {
        await c.delete('/counters/a');
      } catch (e) {
        out.err405 = { isError: e instanceof WsRouterError, status: e.status, allow: e.allow };
      }
      try {
        await c.call('later', { ms: 500 }, { timeout: 50 });
      } catch (e) {
        out.timeout = { status: e.status, local: e.local, detail: e.detail };
      }
      const many = await Promise.all(Array.from({ length: 50 }, (_, i) => c.call('add', { x: i, y: 1 })));
      out.manyOk = many.every((v, i) => v === i + 1);
    } finally {
      await c.close();
    }
    out.state = c.state;
    return out;
  });
  assert.equal(got.protocol, 'wsrouter.v1');
  assert.equal(got.url, `ws://127.0.0.1:${srv.port}/`);
  assert.deepEqual(got.echo, { s: 'Jürgen ✓ 😀 \u2028' });
  assert.equal(got.sum, 42);
  assert.deepEqual(got.ticks, [0, 1, 2]);
  assert.deepEqual(got.err405, { isError: true, status: 405, allow: ['GET', 'POST', 'PUT'] });
  assert.deepEqual(got.timeout, { status: 408, local: true, detail: 'request timed out on the client after 50 ms with no reply' });
  assert.equal(got.manyOk, true);
  assert.equal(got.state, 'closed');
});

test('the admin view: an admin sees a second client, disconnects it and sees it gone; others are refused', async () => {
  const admin = await openDemo();
  let plain;
  // A second client, outside the browser: logged in as bob, subscribed to a topic.
  const other = await connect(`${srv.url}/`);
  try {
    assert.equal((await other.request({ method: 'POST', url: '/auth/login', data: { username: 'bob', password: PW.bob } })).status, 200);
    assert.equal((await other.request({ method: 'POST', url: '/_/subscribe', args: { topic: 'admin-browser' } })).status, 200);
    const id = (await other.request({ cmd: 'whoami' })).data.connection;

    // Before a login: the form, no view.
    assert.equal(await admin.locator('#admin-login').isVisible(), true);
    assert.equal(await admin.locator('#admin-view').isVisible(), false);
    await admin.locator('#admin-user').fill('alice');
    await admin.locator('#admin-pass').fill(PW.alice);
    await admin.getByRole('button', { name: 'Log in' }).click();
    await admin.locator('#admin-who', { hasText: 'alice' }).waitFor();
    const row = admin.locator(`#ad-conns tr[data-id="${id}"]`);
    await row.waitFor();
    const cells = await row.locator('td').allTextContents();
    assert.equal(cells[0], String(id));
    assert.equal(cells[1], `127.0.0.1:${other.ws._socket.localPort}`);
    assert.equal(cells[2], 'bob');
    assert.equal(cells[3], 'websocket');
    assert.equal(cells[4], 'admin-browser');
    assert.match(cells[5], /^\d+ B$|^\d+\.\d KiB$/);
    assert.notEqual(cells[5], '0 B');
    // The page's own connection is marked and has no button.
    const self = admin.locator('#ad-conns tr[data-self]');
    assert.equal(await self.count(), 1);
    assert.match(await self.textContent(), /alice.*this page/);
    assert.equal(await self.locator('button').count(), 0);
    await admin.locator('#ad-topics tr[data-topic="admin-browser"] td', { hasText: /^1$/ }).waitFor();
    assert.equal(await admin.locator('#ad-engine').textContent(), 'memory');
    assert.equal(await admin.locator('#ad-engine-state').textContent(), 'up');

    // Routes: honest quantiles, the bounds the histogram gives (no bucket edge
    // printed as a measurement), the same as computed here from the same stats.
    const login = admin.locator('#ad-routes tr[data-route="login"]');
    await login.waitFor();
    const shown = {
      p50: await login.locator('td.p50').textContent(),
      p99: await login.locator('td.p99').textContent(),
    };
    for (const t of Object.values(shown)) assert.match(t, /^(≤ \d+(\.\d)? (µs|ms|s)|< 1 µs)$/);
    const r = (await node.get('/_/stats')).routes.login;
    const maxUs = Math.round(r.max_ms * 1000);
    assert.equal(shown.p50, quantile(r.latency_us.buckets, 0.5, maxUs).text);
    assert.equal(shown.p99, quantile(r.latency_us.buckets, 0.99, maxUs).text);
    assert.doesNotMatch(await admin.locator('#ad-routes').textContent(), /\d\.\d{3}/);

    mkdirSync(ARTIFACTS, { recursive: true });
    await admin.locator('#admin').screenshot({ path: join(ARTIFACTS, 'browser-admin.png') });
    // On a phone the tables scroll inside their box; the page does not scroll sideways.
    await admin.setViewportSize({ width: 390, height: 844 });
    await admin.locator('#admin').screenshot({ path: join(ARTIFACTS, 'browser-admin-narrow.png') });
    const overflow = await admin.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    const wide = await admin.evaluate(() => [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5 && !e.closest('.table-wrap'))
      .slice(0, 5).map((e) => `${e.tagName}#${e.id}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`));
    assert.ok(overflow <= 0, `the narrow admin view scrolls sideways by ${overflow}px: ${wide.join(', ')}`);
    await admin.setViewportSize({ width: 1280, height: 900 });

    // Disconnect: the client is closed 1008 and its row goes.
    await admin.getByRole('button', { name: `Disconnect connection ${id}` }).click();
    const closed = await withTimeout(other.closed, 5000, 'the disconnected client to close');
    assert.deepEqual(closed, { code: 1008, reason: 'disconnected by an administrator' });
    await row.waitFor({ state: 'detached' });
    assert.equal(await admin.locator('#admin-error').isVisible(), false);
    assert.equal((await node.call('ping')), 'PONG', 'other clients keep working');

    // A user without the role: logged in, refused, no view; the server refuses too.
    plain = await openDemo();
    await plain.locator('#admin-user').fill('bob');
    await plain.locator('#admin-pass').fill(PW.bob);
    await plain.getByRole('button', { name: 'Log in' }).click();
    await plain.locator('#admin-refused', { hasText: 'The admin view needs the admin role, which bob does not have.' }).waitFor();
    assert.equal(await plain.locator('#admin-view').isVisible(), false);
    const status = await plain.evaluate(() => window.wsr.call('admin_connections').then(() => 200, (e) => e.status));
    assert.equal(status, 403);
    // A wrong password says so, and shows nothing.
    await plain.getByRole('button', { name: 'Log out' }).click();
    await plain.locator('#admin-pass').fill('not-the-password');
    await plain.locator('#admin-user').fill('alice');
    await plain.getByRole('button', { name: 'Log in' }).click();
    await plain.locator('#admin-error', { hasText: /^Login failed: / }).waitFor();
    assert.equal(await plain.locator('#admin-view').isVisible(), false);
  } finally {
    other.terminate();
    await admin.close();
    if (plain) await plain.close();
  }
});

test('the page shows reconnecting while the server is down, and recovers', async () => {
  const port = srv.port;
  await node.close();
  node = null;
  await srv.stop();
  await page.locator('#conn[data-state="reconnecting"]').waitFor();
  assert.match(await page.locator('#conn-text').textContent(), /^Reconnecting…/);
  srv = await startServer(['--modules', 'all', '--www', WWW, '--port', String(port)]);
  await page.locator('#conn[data-state="open"]').waitFor({ timeout: 15000 });
  // A new server has no counters: the list is loaded again, and the subscription renewed.
  await page.locator('#counter-list li').first().waitFor({ state: 'detached' });
  node = await WsRouter.connect(`${srv.url}/`, { WebSocket });
  await node.call('increment', { key: 'after-restart' });
  await page.locator('#counter-list li[data-key="after-restart"] output', { hasText: '1' }).waitFor();
});

test('no console errors, page errors or requests outside the server', () => {
  // A refused WebSocket while the server was down is logged by Chromium; nothing else may be.
  const real = problems.filter((p) => !/WebSocket connection to .* failed/.test(p));
  assert.deepEqual(real, []);
});
