// SPDX-License-Identifier: MIT
// Plain HTTP on the WebSocket port (PROTOCOL.md section 1): static files from
// the www directory and the operational endpoints under /_/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, connect, withTimeout } from './harness.mjs';

let srv;
let www;
let outside;

before(async () => {
  www = mkdtempSync(join(tmpdir(), 'wsrd-www-'));
  mkdirSync(join(www, 'sub'));
  writeFileSync(join(www, 'index.html'), '<!doctype html><title>t</title>');
  writeFileSync(join(www, 'app.js'), 'export const a = 1;\n');
  writeFileSync(join(www, 'style.css'), 'body{}\n');
  writeFileSync(join(www, 'sub', 'data.json'), '{"a":1}\n');
  writeFileSync(join(www, 'sub', 'index.html'), '<p>sub</p>');
  // Links out of www (a file, a directory) and one that stays inside.
  outside = mkdtempSync(join(tmpdir(), 'wsrd-outside-'));
  writeFileSync(join(outside, 'secret.txt'), 'SECRET\n');
  symlinkSync(join(outside, 'secret.txt'), join(www, 'leak.txt'));
  symlinkSync(outside, join(www, 'outdir'));
  symlinkSync(join(www, 'app.js'), join(www, 'alias.js'));
  srv = await startServer(['--www', www]);
});

after(async () => {
  await srv.stop();
  rmSync(www, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

const get = (path, headers) => fetch(`http://127.0.0.1:${srv.port}${path}`, { headers });

/** A raw GET, so that '..' reaches the server unnormalised. */
async function rawGet(path) {
  const sock = net.connect(srv.port, '127.0.0.1');
  await withTimeout(new Promise((r) => sock.once('connect', r)), 5000, 'connect');
  let buf = '';
  sock.on('data', (d) => { buf += d; });
  sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  await withTimeout(new Promise((r) => sock.once('close', r)), 5000, 'response');
  return buf;
}

test('files are served with their MIME types, index.html for directories', async () => {
  const cases = [
    ['/', 'text/html', '<!doctype html><title>t</title>'],
    ['/index.html', 'text/html', '<!doctype html><title>t</title>'],
    ['/app.js', 'text/javascript', 'export const a = 1;\n'],
    ['/style.css', 'text/css', 'body{}\n'],
    ['/sub/data.json', 'application/json', '{"a":1}\n'],
    ['/sub/', 'text/html', '<p>sub</p>'],
  ];
  for (const [path, type, body] of cases) {
    const res = await get(path);
    assert.equal(res.status, 200, path);
    assert.ok(res.headers.get('content-type').startsWith(type), `${path}: ${res.headers.get('content-type')}`);
    assert.equal(await res.text(), body, path);
  }
});

test('files carry caching headers and revalidate with ETag', async () => {
  const res = await get('/app.js');
  assert.match(res.headers.get('cache-control'), /max-age=300/);
  const etag = res.headers.get('etag');
  assert.ok(etag);
  await res.text();
  const again = await get('/app.js', { 'If-None-Match': etag });
  assert.equal(again.status, 304);
});

test('missing files are 404', async () => {
  const res = await get('/nope.html');
  assert.equal(res.status, 404);
});

test('no path traversal out of www', async () => {
  for (const path of ['/../etc/passwd', '/sub/../../etc/passwd', '/%2e%2e/etc/passwd', '/..%2fetc/passwd']) {
    const res = await rawGet(path);
    assert.doesNotMatch(res, /root:/, path);
    assert.match(res, /^HTTP\/1.1 (403|404|400)/, path);
  }
});

test('/_/health answers ok', async () => {
  const res = await get('/_/health');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  assert.deepEqual(await res.json(), { status: 'ok' });
});

test('/_/stats and /_/metrics read the same counters', async () => {
  const c = await connect(srv.url);
  for (let i = 0; i < 5; i++) await c.request({ cmd: 'add', args: { x: i, y: 1 } });
  await c.request({ cmd: 'nosuch' });
  const stats = await (await get('/_/stats')).json();
  assert.equal(stats.routes.add.count, 5);
  assert.equal(stats.requests.by_status['404'], 1);
  const res = await get('/_/metrics');
  assert.match(res.headers.get('content-type'), /^text\/plain; version=0.0.4/);
  const text = await res.text();
  assert.match(text, /^wsrouter_requests_total\{route="add",status="200"\} 5$/m);
  assert.match(text, /^wsrouter_requests_total\{route="",status="404"\} 1$/m); // no route
  assert.doesNotMatch(text, /^wsrouter_requests_total\{route="add",status="404"\}/m);
  assert.match(text, /^wsrouter_connections_open 1$/m);
  assert.match(text, /^# TYPE wsrouter_requests_total counter$/m);
  // A real histogram: cumulative buckets ending in +Inf = _count, and _sum.
  assert.match(text, /^# TYPE wsrouter_request_duration_seconds histogram$/m);
  const buckets = [...text.matchAll(/^wsrouter_request_duration_seconds_bucket\{route="add",le="([^"]+)"\} (\d+)$/gm)];
  assert.equal(buckets.length, 24);
  assert.equal(buckets.at(-1)[1], '+Inf');
  assert.equal(buckets.at(-1)[2], '5');
  for (let i = 1; i < buckets.length; i++) assert.ok(Number(buckets[i][2]) >= Number(buckets[i - 1][2]));
  assert.match(text, /^wsrouter_request_duration_seconds_count\{route="add"\} 5$/m);
  const sum = Number(/^wsrouter_request_duration_seconds_sum\{route="add"\} (\S+)$/m.exec(text)[1]);
  assert.ok(sum > 0 && sum < 5 * 60, String(sum));
  assert.equal(stats.routes.add.latency_us.buckets.reduce((a, b) => a + b, 0), 5);
  // The process and the build.
  assert.match(text, /^wsrouter_build_info\{version="\d+\.\d+\.\d+[^"]*"\} 1$/m);
  assert.match(text, /^process_resident_memory_bytes [1-9]\d*$/m);
  assert.match(text, /^process_open_fds [1-9]\d*$/m);
  assert.match(text, /^process_cpu_seconds_total \d/m);
  const start = Number(/^process_start_time_seconds (\S+)$/m.exec(text)[1]);
  assert.ok(Math.abs(start - (Date.now() / 1000 - stats.uptime_s)) < 60, String(start));
  // Counters are integers, never exponents.
  for (const [, v] of text.matchAll(/^wsrouter_\w+_total(?:\{[^}]*\})? (\S+)$/gm)) assert.match(v, /^\d+$/);
  // Prometheus's own checker (Debian's prometheus package) finds nothing to say.
  const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30000 });
  assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
  await c.close();
});

test('unknown endpoints under /_/ are a JSON 404', async () => {
  const res = await get('/_/nothing');
  assert.equal(res.status, 404);
  assert.deepEqual(await res.json(), { status: 404, detail: 'no endpoint /_/nothing' });
});

test('a WebSocket upgrade still reaches the router with files mounted at /', async () => {
  const c = await connect(`${srv.url}/`);
  assert.equal((await c.request({ cmd: 'ping' })).data, 'PONG');
  await c.close();
  const d = await connect(`${srv.url}/_/stats`);
  assert.equal((await d.request({ cmd: 'ping' })).data, 'PONG');
  await d.close();
});

test('a www that is not a directory is refused at start', async () => {
  await assert.rejects(startServer(['--www', join(www, 'app.js')]), /www .*app\.js is not a directory/);
});

test('symbolic links in www are never followed, wherever they point', async () => {
  for (const path of ['/leak.txt', '/outdir/secret.txt', '/alias.js']) {
    const res = await get(path);
    const body = await res.text();
    assert.equal(res.status, 404, `${path}: ${res.status}`);
    assert.ok(!body.includes('SECRET') && !body.includes('export const'), `${path}: ${body}`);
  }
  // The real files still are.
  assert.equal((await get('/app.js')).status, 200);
  assert.equal((await get('/sub/data.json')).status, 200);
});
