// SPDX-License-Identifier: MIT
// The shared store (PROTOCOL.md section 11) against real servers: a
// redis-server of our own (Debian's, on a free port, in a temp directory,
// checked to be the process we started) and two wsrouterd nodes on it.
// Counters add up across nodes, a login on one works on the other, a logout
// or a user's removal closes the user's connections on every node within
// seconds, Redis stopped gives 503 "the cluster engine is unavailable" for
// store requests while the rest answers 200, Redis restarted serves again
// with no node restarted, and a node killed -9 mid-traffic lost no increment
// it had answered 200.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WSRD, startServer, connect, freePort, withTimeout, waitFor } from './harness.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const REDIS = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';

/** One RESP command over a fresh connection: the reply, parsed (enough of
 * RESP2 for these tests: status, error, integer, bulk, arrays). */
async function redisCommand(port, ...args) {
  const sock = net.connect(port, '127.0.0.1');
  await withTimeout(once(sock, 'connect'), 3000, 'a connection to redis-server');
  sock.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join('')}`);
  let buf = Buffer.alloc(0);
  const parse = (at) => {
    const eol = buf.indexOf('\r\n', at);
    if (eol < 0) return null;
    const line = buf.subarray(at + 1, eol).toString();
    const type = String.fromCharCode(buf[at]);
    if (type === '+' || type === '-') return { v: type === '-' ? new Error(line) : line, end: eol + 2 };
    if (type === ':') return { v: Number(line), end: eol + 2 };
    if (type === '$') {
      const n = Number(line);
      if (n < 0) return { v: null, end: eol + 2 };
      if (buf.length < eol + 2 + n + 2) return null;
      return { v: buf.subarray(eol + 2, eol + 2 + n).toString(), end: eol + 4 + n };
    }
    if (type === '*') {
      const out = [];
      let pos = eol + 2;
      for (let i = 0; i < Number(line); i++) {
        const e = parse(pos);
        if (e === null) return null;
        out.push(e.v);
        pos = e.end;
      }
      return { v: out, end: pos };
    }
    throw new Error(`unexpected RESP type ${type}`);
  };
  try {
    return await withTimeout(new Promise((resolve, reject) => {
      sock.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        const r = parse(0);
        if (r !== null) resolve(r.v);
      });
      sock.on('error', reject);
    }), 5000, `redis ${args[0]}`);
  } finally {
    sock.destroy();
  }
}

/** Starts redis-server on a free port with its own directory (durable:
 * appendonly, fsync at each write); resolves once it answers and is the
 * process started here. start() again restarts it on the same port and data. */
function redisServer() {
  const dir = mkdtempSync(join(tmpdir(), 'wsrd-redis-'));
  const r = {
    dir,
    port: 0,
    proc: null,
    /** Starts it on `port`; rejects when it exits first (port taken). */
    async startOn(port) {
      const proc = spawn(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
        '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--daemonize', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      proc.stdout.on('data', (d) => { out += d; });
      const exited = once(proc, 'exit');
      const ready = await Promise.race([
        waitFor(() => /Ready to accept connections/.test(out), 10000, 'redis-server to start').then(() => true),
        exited.then(() => false),
      ]);
      if (!ready) throw new Error(`redis-server did not start on ${port}:\n${out}`);
      // The listener is ours: the server on the port is the child started here.
      const info = await redisCommand(port, 'INFO', 'server');
      assert.match(info, new RegExp(`process_id:${proc.pid}\\r\\n`), 'another redis-server has the port');
      r.port = port;
      r.proc = proc;
      r.exited = exited;
    },
    async start() {
      for (let attempt = 0; ; attempt++) {
        try {
          return await r.startOn(await freePort());
        } catch (e) {
          if (attempt >= 4) throw e; // taken between the probe and the start: another one
        }
      }
    },
    async stop(signal = 'SIGTERM') {
      if (r.proc && r.proc.exitCode === null && r.proc.signalCode === null) {
        r.proc.kill(signal);
        await withTimeout(r.exited, 15000, 'redis-server to exit');
      }
      r.proc = null;
    },
    /** Stops it and starts it again on the same port and data (the nodes
     * are configured with this address). */
    async restart() {
      await r.stop();
      for (let i = 0; ; i++) {
        try {
          return await r.startOn(r.port);
        } catch (e) {
          if (i >= 20) throw e;
          await sleep(250);
        }
      }
    },
    async remove() {
      await r.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return r;
}

const url = (redis) => `redis://127.0.0.1:${redis.port}`;

/** A node on the shared store (no SQLite file of its own). */
const startNode = (redis, extra = []) =>
  startServer(['--store', '', '--modules', 'all', '--set', `engine=${url(redis)}`, ...extra]);

/** `wsrouterd user ...` against the cluster's store. */
function cli(redis, args, input = '') {
  return spawnSync(WSRD, ['user', ...args, '--engine', url(redis)], { input, encoding: 'utf8', timeout: 30000 });
}

// Generous bounds: logins hash passwords, and sanitizer builds on a loaded
// 2-core machine are slow; nothing here measures time but the closes.
const MS = 30000;
const login = (c, username, password) =>
  c.request({ method: 'POST', url: '/auth/login', data: { username, password } }, MS);
const incr = (c, key) => c.request({ method: 'POST', url: `/counters/${key}/increment` }, MS);
const closedWithin = (c, ms, what) => withTimeout(c.closed, ms, what);

describe('two nodes on one Redis', () => {
  let redis;
  let a;
  let b;

  before(async () => {
    redis = redisServer();
    await redis.start();
    a = await startNode(redis);
    b = await startNode(redis);
    for (const [name, pw] of [['alice', 'alice-password-1'], ['bob', 'bob-password-2'], ['carol', 'carol-password-3']]) {
      const r = cli(redis, ['add', name], `${pw}\n`);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, `user ${name} added\n`);
    }
  });

  after(async () => {
    const results = await Promise.all([a, b].filter(Boolean).map((n) => n.stop()));
    await redis?.remove();
    for (const r of results) assert.equal(r.code, 0, 'a node did not exit 0');
  });

  test('`wsrouterd user list` reads the cluster store', () => {
    const r = cli(redis, ['list']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'alice\nbob\ncarol\n');
  });

  test('counters are shared: increments made on both nodes at once add up', async () => {
    const ca = await connect(a.url);
    const cb = await connect(b.url);
    const n = 100;
    // All at once, half on each node (replies are counted, not matched).
    const seen = await Promise.all(Array.from({ length: n }, (_, i) =>
      (i % 2 ? cb : ca).request({ method: 'POST', url: '/counters/shared/increment' }, MS)));
    // Each increment got its own value: 1..n, whichever node served it.
    const values = seen.map((r) => r.data).sort((x, y) => x - y);
    assert.deepEqual(values, Array.from({ length: n }, (_, i) => i + 1));
    for (const c of [ca, cb]) {
      const g = await c.request({ method: 'GET', url: '/counters/shared' }, MS);
      assert.equal(g.data, n);
    }
    // In Redis itself, as JSON text under the store's prefix.
    assert.equal(await redisCommand(redis.port, 'GET', 'wsr:kv:counters:shared'), String(n));
    await ca.close();
    await cb.close();
  });

  test('a login on node A works on node B; the secret was made once, with SET NX', async () => {
    const ca = await connect(a.url);
    const r = await login(ca, 'alice', 'alice-password-1');
    assert.equal(r.status, 200, JSON.stringify(r));
    const cb = await connect(`${b.url}/?token=${r.data.token}`);
    const me = await cb.request({ method: 'GET', url: '/auth/me' }, MS);
    assert.equal(me.data.user, 'alice');
    assert.equal(typeof (await redisCommand(redis.port, 'GET', 'wsr:kv:wsr:jwt_secret')), 'string');
    await ca.close();
    await cb.close();
  });

  test('a logout on node A closes the connection on node B within seconds', async () => {
    const ca = await connect(a.url);
    const t = (await login(ca, 'bob', 'bob-password-2')).data.token;
    const cb = await connect(`${b.url}/?token=${t}`);
    assert.equal((await cb.request({ method: 'GET', url: '/auth/me' }, MS)).data.user, 'bob');
    const out = await ca.request({ method: 'POST', url: '/auth/logout' }, MS);
    assert.equal(out.status, 200);
    assert.deepEqual(await closedWithin(cb, 10000, 'the close on node B'), { code: 1008, reason: 'token revoked' });
    // And a new connection with it is refused on B too.
    const again = await connect(b.url);
    const s = await again.request({ method: 'POST', url: '/auth/session', data: { token: t } }, MS);
    assert.equal(s.detail, 'token was revoked');
    // The revocation is in Redis until the token's login can have expired.
    const claims = JSON.parse(Buffer.from(t.split('.')[1], 'base64url'));
    const score = Number(await redisCommand(redis.port, 'ZSCORE', 'wsr:revoked', claims.sid ?? claims.jti));
    assert.ok(score > Date.now() / 1000, `revocation expiry ${score}`);
    await ca.close();
    await again.close();
  });

  test("a user removed closes the user's connections on every node", async () => {
    const ca = await connect(a.url);
    const cb = await connect(b.url);
    assert.equal((await login(ca, 'carol', 'carol-password-3')).status, 200);
    assert.equal((await login(cb, 'carol', 'carol-password-3')).status, 200);
    const r = cli(redis, ['remove', 'carol']);
    assert.equal(r.status, 0, r.stderr);
    for (const c of [ca, cb])
      assert.deepEqual(await closedWithin(c, 10000, "the close of a removed user's connection"),
        { code: 1008, reason: 'token revoked' });
    const c = await connect(b.url);
    assert.equal((await login(c, 'carol', 'carol-password-3')).detail, 'wrong username or password');
    await c.close();
  });

  test('Redis stopped: store requests 503 with the sentence, the rest 200; restarted: served again', async () => {
    const ca = await connect(a.url);
    const cb = await connect(b.url);
    assert.equal((await incr(ca, 'outage')).data, 1);
    const held = await connect(b.url);
    assert.equal((await login(held, 'alice', 'alice-password-1')).status, 200);
    await redis.stop();
    // A session already held goes on working: tokens are verified in memory.
    assert.equal((await held.request({ method: 'GET', url: '/auth/me' }, MS)).data.user, 'alice');
    await held.close();
    for (const c of [ca, cb]) {
      const r = await incr(c, 'outage');
      assert.equal(r.status, 503, JSON.stringify(r));
      assert.equal(r.detail, 'the cluster engine is unavailable');
      const g = await c.request({ method: 'GET', url: '/counters/outage' }, MS);
      assert.equal(g.status, 503);
      const l = await login(c, 'alice', 'alice-password-1');
      assert.equal(l.status, 503);
      assert.equal(l.detail, 'the cluster engine is unavailable');
      // Not the store: still served.
      const m = await c.request({ method: 'GET', url: '/math/add', args: { a: 2, b: 3 } }, MS);
      assert.notEqual(m.status, 503, JSON.stringify(m));
      const p = await c.request({ cmd: 'ping' }, MS);
      assert.equal(p.status, 200, JSON.stringify(p));
    }
    for (const n of [a, b]) {
      const h = await fetch(`http://127.0.0.1:${n.port}/_/health`);
      assert.equal(h.status, 200);
    }
    const down = cli(redis, ['list']);
    assert.equal(down.status, 1);
    assert.equal(down.stderr, `wsrouterd: the cluster engine is unavailable: cannot connect to 127.0.0.1:${redis.port}: Connection refused\n`);
    // A node does not start without Redis (it needs the secret and the
    // revocations first), and says why.
    const refused = spawnSync(WSRD, ['--port', '0', '--store', '', '--set', `engine=${url(redis)}`], { encoding: 'utf8', timeout: 30000 });
    assert.equal(refused.status, 1, refused.stderr);
    assert.equal(refused.stderr, `wsrouterd: the cluster engine is unavailable: cannot connect to 127.0.0.1:${redis.port}: Connection refused\n`);
    await redis.restart();
    // Within the backoff (at most 5 s), on the same connections, no restart.
    for (const c of [ca, cb]) {
      let r;
      const deadline = Date.now() + 15000;
      do {
        r = await incr(c, 'outage');
        if (r.status !== 200) await sleep(200);
      } while (r.status !== 200 && Date.now() < deadline);
      assert.equal(r.status, 200, JSON.stringify(r));
    }
    assert.equal((await ca.request({ method: 'GET', url: '/counters/outage' }, MS)).data, 3);
    // The outage was logged once by each node, not once per refused request.
    for (const n of [a, b]) {
      const lines = n.stderr().split('\n');
      const down = lines.filter((l) => /cluster engine: the store on Redis is unavailable \(.+\); retrying/.test(l));
      assert.equal(down.length, 1, n.stderr());
      const back = lines.slice(lines.indexOf(down[0])).filter((l) => /the store on Redis is reachable/.test(l));
      assert.equal(back.length, 1, n.stderr());
    }
    await ca.close();
    await cb.close();
  });
});

test('a node killed -9 mid-traffic: every increment answered 200 is in Redis', async () => {
  const redis = redisServer();
  await redis.start();
  const victim = await startNode(redis);
  const other = await startNode(redis);
  try {
    const clients = await Promise.all([connect(victim.url), connect(victim.url), connect(other.url)]);
    let acked = 0;
    let stop = false;
    const loops = clients.map(async (c) => {
      for (let i = 0; i < 2000 && !stop; i++) {
        // Its node may die under it: the close ends the loop.
        const r = await Promise.race([
          c.request({ method: 'POST', url: '/counters/k9/increment' }, 10000).catch(() => null),
          c.closed.then(() => null),
        ]);
        if (r === null) return;
        if (r.status === 200) acked++;
      }
    });
    await waitFor(() => acked >= 100, 60000, '100 acknowledged increments');
    assert.equal((await victim.stop('SIGKILL')).signal, 'SIGKILL');
    await sleep(200);
    stop = true;
    await withTimeout(Promise.all(loops), MS, 'the traffic to end');
    const stored = Number(await redisCommand(redis.port, 'GET', 'wsr:kv:counters:k9'));
    assert.ok(stored >= acked, `${acked} increments were answered 200 but Redis holds ${stored}`);
    // At most the ones in flight at the kill were done without a reply.
    assert.ok(stored - acked <= clients.length, `${stored - acked} increments done without a 200`);
    // The surviving node still serves, and its count is Redis's.
    const c = await connect(other.url);
    assert.equal((await c.request({ method: 'GET', url: '/counters/k9' }, MS)).data, stored);
    await c.close();
    for (const cl of clients) cl.terminate();
  } finally {
    await victim.stop('SIGKILL').catch(() => {});
    const r = await other.stop();
    await redis.remove();
    assert.equal(r.code, 0, other.stderr());
  }
});
