// SPDX-License-Identifier: MIT
// The admin requests behind the demo page's admin view (docs/protocol.md
// "Admin requests"), against the real wsrouterd with two event loops, so that
// a listing gathers connections from both: admin_connections lists every live
// connection with its address, user, transport, subscriptions and bytes;
// admin_topics counts subscribers; admin_disconnect closes one connection with
// 1008 while the others keep working. Anonymous callers get 401, users
// without the admin role 403.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WSRD, startServer, connect, freePort, waitFor, withTimeout } from './harness.mjs';

const PW = { alice: 'alice-admin-pass-1', bob: 'bob-plain-pass-22' };
let dir;
let srv;
const open = []; // clients to close at the end

function userAdd(store, name, password, roles = []) {
  const r = spawnSync(WSRD, ['user', 'add', name, ...roles.flatMap((x) => ['--role', x]), '--store', store],
    { input: `${password}\n`, encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 0, r.stderr);
}

async function client() {
  const c = await connect(`${srv.url}/`);
  open.push(c);
  return c;
}

async function login(c, username) {
  const r = await c.request({ method: 'POST', url: '/auth/login', data: { username, password: PW[username] } });
  assert.equal(r.status, 200, r.detail);
  return r;
}

async function whoami(c) {
  const r = await c.request({ cmd: 'whoami' });
  assert.equal(r.status, 200);
  return r.data.connection;
}

async function rawPort() {
  const re = /listening on tcp:\/\/\S+?:(\d+)\//;
  await waitFor(() => re.test(srv.stdout()), 5000, 'the tcp:// line');
  return Number(re.exec(srv.stdout())[1]);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wsrd-admin-'));
  const store = join(dir, 'wsrouter.db');
  userAdd(store, 'alice', PW.alice, ['admin']);
  userAdd(store, 'bob', PW.bob);
  srv = await startServer(['--store', store, '--modules', 'all', '--io-threads', '2', '--raw-port', '0']);
});

after(async () => {
  for (const c of open) c.terminate();
  if (srv) {
    const { code } = await srv.stop();
    assert.equal(code, 0, srv.stderr());
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('anonymous callers get 401 and users without the admin role 403, for every admin request', async () => {
  const anon = await client();
  const bob = await client();
  await login(bob, 'bob');
  for (const cmd of ['admin_connections', 'admin_topics', 'admin_disconnect']) {
    const args = cmd === 'admin_disconnect' ? { id: 1 } : {};
    const a = await anon.request({ cmd, args });
    assert.equal(a.status, 401, cmd);
    assert.equal(a.detail, `route ${cmd} requires authentication: log in or send a token`);
    const b = await bob.request({ cmd, args });
    assert.equal(b.status, 403, cmd);
    assert.equal(b.detail, `route ${cmd} requires the role admin`);
  }
  // By URL as well as by name.
  assert.equal((await bob.request({ method: 'GET', url: '/_/admin/connections' })).status, 403);
  assert.equal((await anon.request({ method: 'POST', url: '/_/admin/disconnect', args: { id: 1 } })).status, 401);
});

test('an admin lists every connection of both loops with address, user, transport, subscriptions and bytes', async () => {
  const admin = await client();
  await login(admin, 'alice');
  const bob = await client();
  await login(bob, 'bob');
  assert.equal((await bob.request({ method: 'POST', url: '/_/subscribe', args: { topic: 'news' } })).status, 200);
  assert.equal((await bob.request({ method: 'POST', url: '/_/subscribe', args: { topic: 'sport' } })).status, 200);
  const anons = [];
  for (let i = 0; i < 6; i++) anons.push(await client());
  const ids = new Map([[await whoami(bob), 'bob'], [await whoami(admin), 'alice']]);
  for (const a of anons) ids.set(await whoami(a), null);
  // Eight connections on two loops: SO_REUSEPORT spreads them, and the
  // listing has to come back whole whichever loop each one landed on.

  const r = await admin.request({ cmd: 'admin_connections' });
  assert.equal(r.status, 200, r.detail);
  const byId = new Map(r.data.connections.map((c) => [c.id, c]));
  for (const [id, user] of ids) {
    assert.ok(byId.has(id), `connection ${id} is listed`);
    assert.equal(byId.get(id).user, user);
  }
  assert.equal(r.data.total, r.data.connections.length);
  // The caller's own connection is marked, and only it.
  assert.deepEqual(r.data.connections.filter((c) => c.self).map((c) => c.id), [await whoami(admin)]);
  assert.equal(r.data.truncated, false);
  const b = byId.get(await whoami(bob));
  assert.equal(b.address, `127.0.0.1:${bob.ws._socket.localPort}`);
  assert.equal(b.transport, 'websocket');
  assert.equal(b.protocol, 'wsrouter.v1');
  assert.equal(b.tls, false);
  assert.deepEqual([...b.subscriptions].sort(), ['news', 'sport']);
  assert.ok(b.bytes_in > 100 && b.bytes_out > 100, JSON.stringify(b));
  assert.ok(Number.isInteger(b.connected_s) && b.connected_s >= 0);
  // Bytes are this connection's own: bob's grow by what bob sends, the admin's do not change them.
  const before = b.bytes_in;
  const msg = JSON.stringify({ cmd: 'echo', data: 'x'.repeat(1000) });
  assert.equal((await bob.request(JSON.parse(msg))).status, 200);
  const again = (await admin.request({ cmd: 'admin_connections' })).data.connections.find((c) => c.id === b.id);
  assert.ok(again.bytes_in >= before + msg.length, `${again.bytes_in} >= ${before} + ${msg.length}`);
  // limit keeps the listing bounded and says so.
  const one = await admin.request({ cmd: 'admin_connections', args: { limit: 1 } });
  assert.equal(one.data.connections.length, 1);
  assert.equal(one.data.truncated, true);
  assert.ok(one.data.total >= ids.size);
  const bad = await admin.request({ cmd: 'admin_connections', args: { limit: 0 } });
  assert.equal(bad.status, 422);
  assert.deepEqual(bad.errors, { limit: 'must be from 1 to 10000' });
});

test('admin_topics counts each topic\'s subscribers', async () => {
  const admin = await client();
  await login(admin, 'alice');
  const subs = [];
  for (let i = 0; i < 3; i++) {
    const c = await client();
    assert.equal((await c.request({ method: 'POST', url: '/_/subscribe', args: { topic: 'admin-t3' } })).status, 200);
    subs.push(c);
  }
  assert.equal((await subs[0].request({ method: 'POST', url: '/_/subscribe', args: { topic: 'admin-t1' } })).status, 200);
  let r = await admin.request({ cmd: 'admin_topics' });
  assert.equal(r.status, 200, r.detail);
  assert.equal(r.data.topics['admin-t3'], 3);
  assert.equal(r.data.topics['admin-t1'], 1);
  assert.equal(r.data.truncated, false);
  await subs[1].close();
  // A closed subscriber is forgotten.
  for (let i = 0; i < 50; i++) {
    r = await admin.request({ cmd: 'admin_topics' });
    if (r.data.topics['admin-t3'] === 2) break;
    await new Promise((res) => setTimeout(res, 20));
  }
  assert.equal(r.data.topics['admin-t3'], 2);
});

test('admin_disconnect closes that connection with 1008; the others keep working', async () => {
  const admin = await client();
  await login(admin, 'alice');
  const victim = await client();
  const bystander = await client();
  const id = await whoami(victim);
  const r = await admin.request({ cmd: 'admin_disconnect', args: { id } });
  assert.equal(r.status, 200, r.detail);
  assert.deepEqual(r.data, { disconnected: id, code: 1008 });
  const closed = await withTimeout(victim.closed, 5000, 'the victim to be closed');
  assert.deepEqual(closed, { code: 1008, reason: 'disconnected by an administrator' });
  // Gone from the listing, and a second disconnect finds nothing.
  const list = await admin.request({ cmd: 'admin_connections' });
  assert.ok(!list.data.connections.some((c) => c.id === id));
  const twice = await admin.request({ cmd: 'admin_disconnect', args: { id } });
  assert.equal(twice.status, 404);
  assert.equal(twice.detail, `no open connection with id ${id} on this node`);
  // The others are untouched.
  assert.equal((await bystander.request({ cmd: 'ping' })).data, 'PONG');
  assert.equal((await admin.request({ cmd: 'ping' })).data, 'PONG');
  // Ids that no loop gave, and ids that are not ids.
  assert.equal((await admin.request({ cmd: 'admin_disconnect', args: { id: 12345 } })).status, 404);
  const neg = await admin.request({ cmd: 'admin_disconnect', args: { id: -3 } });
  assert.equal(neg.status, 422);
  assert.deepEqual(neg.errors, { id: 'must be a connection id (a positive integer)' });
  assert.equal((await admin.request({ cmd: 'admin_disconnect', args: { id: 'x' } })).status, 422);
  assert.equal((await admin.request({ cmd: 'admin_disconnect' })).status, 422);
});

test('raw TCP connections are listed with their framing and can be disconnected', async () => {
  const admin = await client();
  await login(admin, 'alice');
  const sock = createConnection({ host: '127.0.0.1', port: await rawPort() });
  await once(sock, 'connect');
  let got = '';
  sock.on('data', (d) => { got += d; });
  const ended = new Promise((resolve) => sock.on('close', resolve));
  sock.write('{"cmd":"ping","id":1}\n');
  await waitFor(() => got.includes('PONG'), 5000, 'the NDJSON PONG');
  const r = await admin.request({ cmd: 'admin_connections' });
  const raw = r.data.connections.filter((c) => c.transport === 'ndjson');
  assert.equal(raw.length, 1, JSON.stringify(r.data.connections));
  assert.equal(raw[0].protocol, 'raw');
  assert.equal(raw[0].address, `127.0.0.1:${sock.localPort}`);
  assert.ok(raw[0].bytes_in >= 22 && raw[0].bytes_out > 0);
  const d = await admin.request({ cmd: 'admin_disconnect', args: { id: raw[0].id } });
  assert.equal(d.status, 200, d.detail);
  await withTimeout(ended, 5000, 'the raw connection to close');
  // 1008 on a raw connection gets no last line (raw.c: the one for a client
  // that stopped reading); it is closed and no longer listed.
  const after = await admin.request({ cmd: 'admin_connections' });
  assert.ok(!after.data.connections.some((c) => c.id === raw[0].id));
  sock.destroy();
});

test('the admin view\'s quantiles are the histogram\'s bounds, never a bucket edge as a measurement', async () => {
  const { quantile, fmtUs } = await import('../../www/latency.js');
  const buckets = new Array(24).fill(0);
  assert.equal(quantile(buckets, 0.5), null, 'no calls, no quantile');
  // 99 calls of 16384 to 32767 µs (bucket 15), one of 4 to 7 µs (bucket 3).
  buckets[15] = 99;
  buckets[3] = 1;
  assert.deepEqual(quantile(buckets, 0.5), { le_us: 32767, text: '≤ 33 ms' });
  assert.deepEqual(quantile(buckets, 0.01), { le_us: 7, text: '≤ 7 µs' });
  // The slowest call bounds it too: nothing was slower than 20 ms.
  assert.deepEqual(quantile(buckets, 0.99, 20000), { le_us: 20000, text: '≤ 20 ms' });
  // Bucket 0 holds calls under a microsecond.
  assert.deepEqual(quantile([3, ...new Array(23).fill(0)], 0.99), { le_us: 0, text: '< 1 µs' });
  // The last bucket is open-ended: a lower bound (rounded down), or the max.
  const slow = new Array(24).fill(0);
  slow[23] = 2;
  assert.equal(quantile(slow, 0.5).text, '≥ 4.1 s');
  assert.equal(quantile(slow, 0.5, 5123456).text, '≤ 5.2 s');
  // Every bucket edge reads as two figures, rounded up, so it stays a bound.
  const edges = Array.from({ length: 22 }, (_, i) => fmtUs(2 ** (i + 1) - 1));
  assert.deepEqual(edges, ['1 µs', '3 µs', '7 µs', '15 µs', '31 µs', '63 µs', '130 µs', '260 µs', '520 µs',
    '1.1 ms', '2.1 ms', '4.1 ms', '8.2 ms', '17 ms', '33 ms', '66 ms', '140 ms', '270 ms', '530 ms',
    '1.1 s', '2.1 s', '4.2 s']);
  // The same figures from a real server's stats.
  const c = await client();
  for (let i = 0; i < 20; i++) assert.equal((await c.request({ cmd: 'ping' })).status, 200);
  const s = (await c.request({ cmd: 'stats' })).data.routes.ping;
  const q = quantile(s.latency_us.buckets, 0.99, Math.round(s.max_ms * 1000));
  assert.ok(q.le_us >= s.p99_ms * 1000 / 2 && q.le_us <= Math.round(s.max_ms * 1000), JSON.stringify({ q, s }));
});

const REDIS = process.env.REDIS_SERVER ??
  (existsSync('/usr/bin/redis-server') ? '/usr/bin/redis-server' : 'redis-server');

/** A real redis-server on a free port, in a directory of its own. */
async function startRedis() {
  const rdir = mkdtempSync(join(tmpdir(), 'wsrd-admin-redis-'));
  const port = await freePort();
  const proc = spawn(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--dir', rdir, '--save', '',
    '--appendonly', 'no', '--daemonize', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout.on('data', (d) => { log += d; });
  const exited = once(proc, 'exit');
  await waitFor(() => /Ready to accept connections/.test(log) || proc.exitCode !== null, 10000, 'redis-server');
  assert.equal(proc.exitCode, null, `redis-server did not start:\n${log}`);
  return {
    port,
    async remove() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await withTimeout(exited, 10000, 'redis-server to exit');
      rmSync(rdir, { recursive: true, force: true });
    },
  };
}

test('on two nodes sharing Redis, each node lists and disconnects its own connections only', async () => {
  const secret = randomBytes(32).toString('hex');
  const b64u = (x) => Buffer.from(JSON.stringify(x)).toString('base64url');
  const iat = Math.floor(Date.now() / 1000);
  const input = `${b64u({ alg: 'HS256', typ: 'JWT' })}.${b64u({ sub: 'root', iat, exp: iat + 600, jti: randomBytes(8).toString('hex'), roles: 'admin' })}`;
  const token = `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
  const redis = await startRedis();
  const nodes = [];
  const clients = [];
  try {
    for (let i = 0; i < 2; i++) {
      nodes.push(await startServer(['--modules', 'all', '--set', `engine=redis://127.0.0.1:${redis.port}`,
        '--set', `jwt_secret=${secret}`]));
    }
    const admins = [];
    for (const n of nodes) {
      const c = await connect(`${n.url}/?token=${token}`);
      clients.push(c);
      admins.push(c);
    }
    const onB = await connect(`${nodes[1].url}/`);
    clients.push(onB);
    const id = (await onB.request({ cmd: 'whoami' })).data.connection;
    const [listA, listB] = await Promise.all(admins.map((a) => a.request({ cmd: 'admin_connections' })));
    assert.equal(listA.status, 200, listA.detail);
    assert.ok(!listA.data.connections.some((c) => c.id === id), 'node A does not list node B\'s connection');
    assert.ok(listB.data.connections.some((c) => c.id === id && c.user === null));
    assert.ok(listA.data.connections.every((c) => c.user === 'root' || c.user === null));
    // Node A does not hold it: 404, and the connection stays open.
    const fromA = await admins[0].request({ cmd: 'admin_disconnect', args: { id } });
    assert.equal(fromA.status, 404);
    assert.equal(fromA.detail, `no open connection with id ${id} on this node`);
    assert.equal((await onB.request({ cmd: 'ping' })).data, 'PONG');
    // Node B does.
    const fromB = await admins[1].request({ cmd: 'admin_disconnect', args: { id } });
    assert.equal(fromB.status, 200, fromB.detail);
    assert.equal((await withTimeout(onB.closed, 5000, 'the close')).code, 1008);
    // The engine's state, as the admin view shows it, comes with `stats`.
    const st = await admins[0].request({ cmd: 'stats' });
    assert.equal(st.data.engine.kind, 'redis');
    assert.equal(st.data.engine.state, 'up');
  } finally {
    for (const c of clients) c.terminate();
    for (const n of nodes) {
      const { code } = await n.stop();
      assert.equal(code, 0, n.stderr());
    }
    await redis.remove();
  }
});
