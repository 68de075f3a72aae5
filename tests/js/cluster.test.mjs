// SPDX-License-Identifier: MIT
// Many nodes on Redis (issue 14, PROTOCOL.md section 11): a real redis-server
// from Debian's package, on a free loopback port with its own directory and
// no persistence, started and stopped by pid (never the system service), and
// two or three real wsrouterd nodes sharing it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startServer, connect, waitFor, withTimeout } from './harness.mjs';
import { freePort, startNginx } from './nginx.mjs';
import { WsRouter } from '../../www/wsrouter.js';

const REDIS = process.env.REDIS_SERVER ??
  (existsSync('/usr/bin/redis-server') ? '/usr/bin/redis-server' : 'redis-server');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const SECRET = randomBytes(32).toString('hex');

/** An HS256 token for `sub`, minted here with the nodes' shared jwt_secret. */
function token(sub) {
  const b64u = (x) => Buffer.from(JSON.stringify(x)).toString('base64url');
  const iat = Math.floor(Date.now() / 1000);
  const input = `${b64u({ alg: 'HS256', typ: 'JWT' })}.${b64u({ sub, iat, exp: iat + 3600, jti: randomBytes(8).toString('hex'), roles: '' })}`;
  return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
}


/** Whether something answers PING with PONG on `port`. */
function ping(port) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    const done = (v) => { sock.destroy(); resolve(v); };
    sock.setTimeout(1000, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => { got += d; if (got.includes('\r\n')) done(got.startsWith('+PONG')); });
  });
}

/** Sends one command to the Redis on `port`; resolves with its first reply line. */
function redisCommand(port, ...args) {
  return withTimeout(new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    sock.on('error', reject);
    sock.on('connect', () => sock.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`));
    sock.on('data', (d) => { got += d; if (got.includes('\r\n')) { sock.destroy(); resolve(got.split('\r\n')[0]); } });
  }), 5000, `redis ${args[0]}`);
}

/** Starts redis-server on `port` (a free one when not given) in `dir`. */
async function startRedis({ port, dir } = {}) {
  dir ??= mkdtempSync(join(tmpdir(), 'wsrd-redis-'));
  for (let attempt = 0; ; attempt++) {
    const p = port ?? await freePort();
    const proc = spawn(REDIS, ['--port', String(p), '--bind', '127.0.0.1', '--dir', dir,
      '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--protected-mode', 'yes'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    proc.stdout.on('data', (d) => { log += d; });
    proc.stderr.on('data', (d) => { log += d; });
    const exited = once(proc, 'exit');
    const deadline = Date.now() + 10000;
    let up = false;
    while (!up && Date.now() < deadline && proc.exitCode === null) {
      up = /Ready to accept connections/.test(log) && await ping(p);
      if (!up) await sleep(50);
    }
    if (up) {
      return {
        port: p, dir, proc, log: () => log,
        async stop(signal = 'SIGTERM') {
          if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
          await withTimeout(exited, 10000, 'redis-server to exit');
        },
        async remove() { await this.stop(); rmSync(dir, { recursive: true, force: true }); },
      };
    }
    if (proc.exitCode === null) proc.kill('SIGKILL');
    await exited;
    if (port !== undefined || attempt >= 2) throw new Error(`redis-server did not start:\n${log}`);
  }
}

/** The node id a node took (its start-up line "engine: Redis at ..., node N").
 *  The line is on stderr, the "listening" line startServer waited for on
 *  stdout: two pipes, so the first may still be on its way. */
async function nodeId(node) {
  const find = () => /engine: Redis at \S+, node (\d+)/.exec(node.stderr() + node.stdout());
  try {
    await waitFor(() => find() !== null, 5000, 'the start-up line naming the node id');
  } catch {
    assert.fail(`no node id in the output:\n${node.stderr()}`);
  }
  return Number(find()[1]);
}

function nodeArgs(redis, more = []) {
  return ['--modules', 'all', '--set', `engine=redis://127.0.0.1:${redis.port}`,
    '--set', 'history_size=2000', ...more];
}

/** A client that files pushes apart from replies (matched by id). */
class Peer {
  constructor(client) {
    this.c = client;
    this.pubs = [];
    this.pushes = [];
    this.replies = new Map();
    this.nextId = 1;
    this.pump();
  }

  async pump() {
    for (;;) {
      let m;
      try { m = await this.c.nextJson(60000); } catch { return; }
      if (m.status !== undefined) {
        const w = this.replies.get(m.id);
        this.replies.delete(m.id);
        if (w) w(m);
      } else if (m.event_name === 'publish') this.pubs.push(m);
      else this.pushes.push(m);
    }
  }

  request(obj, ms = 10000) {
    const id = this.nextId++;
    const got = new Promise((resolve) => this.replies.set(id, resolve));
    this.c.send(JSON.stringify({ ...obj, id }));
    return withTimeout(got, ms, `the reply to ${obj.url ?? obj.cmd}`);
  }

  static async open(url) { return new Peer(await connect(url)); }
}

const sub = (p, topic, since) => p.request({ method: 'POST', url: '/_/subscribe', args: since ? { topic, since } : { topic } });
const pub = (p, topic, data) => p.request({ method: 'POST', url: '/_/publish', args: { topic }, data });
const presence = (p, topic) => p.request({ method: 'GET', url: '/_/presence', args: { topic } });

async function health(node) {
  const r = await fetch(`http://127.0.0.1:${node.port}/_/health`);
  return { status: r.status, body: await r.json() };
}

/** Stops the nodes the test did not kill itself; each must exit 0 (a
 * sanitizer's report or a leak changes the status). */
async function stopAll(nodes) {
  const bad = [];
  for (const node of nodes) {
    if (node.proc.signalCode === 'SIGKILL') continue;
    const { code, signal } = await node.stop().catch(() => node.stop('SIGKILL'));
    if (code !== 0) bad.push(`wsrouterd exited with ${code ?? signal}:\n${node.stderr()}`);
  }
  assert.deepEqual(bad, []);
}

async function withCluster(n, fn, more) {
  const redis = await startRedis();
  const nodes = [];
  try {
    for (let i = 0; i < n; i++) nodes.push(await startServer(nodeArgs(redis, more)));
    const result = await fn({ redis, nodes });
    await stopAll(nodes);
    return result;
  } finally {
    for (const node of nodes) await node.stop('SIGKILL').catch(() => {});
    await redis.remove();
  }
}

test('a publication on either node reaches a subscriber on each exactly once, in order, offsets agreeing', async () => {
  await withCluster(2, async ({ nodes }) => {
    const [a, b] = [await Peer.open(nodes[0].url), await Peer.open(nodes[1].url)];
    const sa = await sub(a, 'chat'), sb = await sub(b, 'chat');
    assert.equal(sa.status, 200);
    assert.equal(sb.status, 200);
    assert.equal(sa.data.epoch, sb.data.epoch, 'one epoch across the cluster');
    const N = 1000;
    const senders = [await Peer.open(nodes[0].url), await Peer.open(nodes[1].url)];
    const replies = [];
    for (let i = 0; i < N; i++) replies.push(pub(senders[i % 2], 'chat', { i }));
    const got = await Promise.all(replies);
    assert.ok(got.every((r) => r.status === 200), 'every publication answered 200');
    assert.ok(got.every((r) => r.data.delivered === 2), 'each counted for both subscribers');
    await waitFor(() => a.pubs.length >= N && b.pubs.length >= N, 30000, 'every publication on both nodes');
    await sleep(200); // anything more would be a duplicate
    for (const p of [a, b]) {
      assert.equal(p.pubs.length, N, 'none twice');
      assert.deepEqual(p.pubs.map((m) => m.offset), Array.from({ length: N }, (_, i) => i + 1));
      assert.ok(p.pubs.every((m) => m.epoch === sa.data.epoch));
      assert.deepEqual(new Set(p.pubs.map((m) => m.data.i)).size, N, 'each publication once');
    }
    // The same order on both nodes: offset k is the same publication everywhere.
    assert.deepEqual(a.pubs.map((m) => m.data.i), b.pubs.map((m) => m.data.i));
    // Publications from one sender keep their order.
    for (const p of [a, b]) {
      const even = p.pubs.map((m) => m.data.i).filter((i) => i % 2 === 0);
      assert.deepEqual(even, [...even].sort((x, y) => x - y));
    }
  });
});

test('a client resumes on the other node with since: what it missed, nothing twice', async () => {
  await withCluster(2, async ({ nodes }) => {
    const a = await Peer.open(nodes[0].url);
    await sub(a, 'news');
    const pb = await Peer.open(nodes[1].url);
    for (let i = 1; i <= 5; i++) assert.equal((await pub(pb, 'news', { i })).status, 200);
    await waitFor(() => a.pubs.length === 5, 10000, 'five publications');
    const last = a.pubs[4];
    await a.c.close();
    for (let i = 6; i <= 9; i++) assert.equal((await pub(pb, 'news', { i })).status, 200);
    const back = await Peer.open(nodes[1].url);
    const r = await sub(back, 'news', { offset: last.offset, epoch: last.epoch });
    assert.equal(r.status, 200);
    assert.equal(r.data.recovered, true);
    assert.equal(r.data.offset, 9);
    await pub(pb, 'news', { i: 10 });
    await waitFor(() => back.pubs.length >= 5, 10000, 'the replay and the live one');
    await sleep(200);
    assert.deepEqual(back.pubs.map((m) => m.data.i), [6, 7, 8, 9, 10]);
    assert.deepEqual(back.pubs.map((m) => m.offset), [6, 7, 8, 9, 10]);
    // An epoch the cluster never had: not recovered, and says so.
    const other = await Peer.open(nodes[0].url);
    const r2 = await sub(other, 'news', { offset: 3, epoch: 'not-this-one' });
    assert.equal(r2.data.recovered, false);
  });
});

test('a push by connection id crosses nodes', async () => {
  await withCluster(2, async ({ nodes }) => {
    const a = await Peer.open(nodes[0].url), b = await Peer.open(nodes[1].url);
    const who = await b.request({ cmd: 'whoami' });
    const id = who.data.connection;
    assert.ok(Number.isSafeInteger(id), `connection id ${id} is exact in JavaScript`);
    const mine = (await a.request({ cmd: 'whoami' })).data.connection;
    assert.notEqual(mine, id, 'ids are unique across the cluster');
    const r = await a.request({ method: 'POST', url: '/diag/push', args: { to: id, count: 3, event: 'hey' }, data: 'x' });
    assert.equal(r.data.pushed, 3);
    await waitFor(() => b.pushes.length === 3, 10000, 'three pushes on node B');
    assert.deepEqual(b.pushes.map((m) => [m.event_name, m.data.seq, m.data.data]), [['hey', 0, 'x'], ['hey', 1, 'x'], ['hey', 2, 'x']]);
    assert.equal(a.pushes.length, 0);
    // A connection that is gone is not reached, and nobody else gets its push;
    // a node that is not there at all: nothing pushed.
    const c = await Peer.open(nodes[1].url);
    await b.c.close();
    await a.request({ method: 'POST', url: '/diag/push', args: { to: id, event: 'lost' } });
    // diag push runs on the event loop, where a push to another node is
    // queued without waiting on Redis (factory.h): "pushed" counts it queued.
    const nowhere = await a.request({ method: 'POST', url: '/diag/push', args: { to: id + 2 ** 50, event: 'nowhere' } });
    assert.equal(nowhere.data.pushed, 1, 'queued for node 64 (not in this cluster)');
    await a.request({ method: 'POST', url: '/diag/push', args: { to: (await c.request({ cmd: 'whoami' })).data.connection, event: 'marker' } });
    await waitFor(() => c.pushes.length === 1, 10000, 'the marker push');
    assert.deepEqual(c.pushes.map((m) => m.event_name), ['marker']);
  });
});

test('presence adds up across nodes and drops when a node is killed -9', async () => {
  await withCluster(3, async ({ redis, nodes }) => {
    const peers = [await Peer.open(nodes[0].url), await Peer.open(`${nodes[0].url}/?token=${token('ann')}`),
      await Peer.open(nodes[1].url), await Peer.open(`${nodes[2].url}/?token=${token('zoe')}`)];
    for (const p of peers) assert.equal((await sub(p, 'room')).status, 200);
    for (const i of [0, 1, 2]) {
      const asked = await Peer.open(nodes[i].url);
      const r = await presence(asked, 'room');
      assert.equal(r.status, 200);
      assert.equal(r.data.count, 4, `node ${i} counts every node's subscribers`);
      assert.deepEqual([...r.data.users].sort(), ['ann', 'zoe'], 'the authenticated ones by name');
    }
    await peers[1].c.close();
    const asker = await Peer.open(nodes[0].url);
    const dropped = await presence(asker, 'room');
    assert.equal(dropped.data.count, 3, 'a closed connection leaves at once');
    assert.deepEqual(dropped.data.users, ['zoe']);
    nodes[1].proc.kill('SIGKILL');
    await nodes[1].exited;
    const deadline = Date.now() + 30000;
    let count;
    do {
      await sleep(500);
      count = (await presence(asker, 'room')).data.count;
    } while (count !== 2 && Date.now() < deadline);
    assert.equal(count, 2, 'the dead node\'s subscriber expired');
    assert.deepEqual((await presence(asker, 'room')).data.users, ['zoe']);
    // The survivors still get publications, and that publication forgets
    // the dead node in the topic's node set (it would stay there forever).
    const r = await pub(asker, 'room', 'still here');
    assert.equal(r.data.delivered, 2);
    assert.equal(await redisCommand(redis.port, 'SISMEMBER', 'wsr:prn:room', String(await nodeId(nodes[1]))), ':0');
    assert.equal(await redisCommand(redis.port, 'SISMEMBER', 'wsr:prn:room', String(await nodeId(nodes[0]))), ':1');
    await waitFor(() => peers[0].pubs.length === 1 && peers[3].pubs.length === 1, 10000, 'the survivors\' publication');
    // A node that stops cleanly withdraws its presence at once.
    const { code } = await nodes[2].stop();
    assert.equal(code, 0);
    const left = await presence(asker, 'room');
    assert.equal(left.data.count, 1);
    assert.deepEqual(left.data.users, []);
  }, ['--set', `jwt_secret=${SECRET}`]);
});

test('Redis stopped mid-traffic: 503 for engine requests, the rest works, health says so; back without a node restart, nothing twice', async () => {
  const redis = await startRedis();
  const nodes = [await startServer(nodeArgs(redis)), await startServer(nodeArgs(redis))];
  try {
    const [a, b] = [await Peer.open(nodes[0].url), await Peer.open(nodes[1].url)];
    await sub(a, 't');
    await sub(b, 't');
    for (let i = 0; i < 20; i++) assert.equal((await pub(i % 2 ? b : a, 't', { i })).status, 200);
    await waitFor(() => a.pubs.length === 20 && b.pubs.length === 20, 10000, 'twenty publications');
    // Traffic keeps going while Redis stops.
    const during = [];
    let stopAt = null;
    for (let i = 20; i < 60; i++) {
      if (i === 30) { stopAt = redis.stop('SIGKILL'); }
      during.push(await pub(i % 2 ? b : a, 't', { i }));
    }
    await stopAt;
    const deadline = Date.now() + 15000;
    let h;
    do { h = await health(nodes[0]); if (h.body.engine.state !== 'down') await sleep(100); } while (h.body.engine.state !== 'down' && Date.now() < deadline);
    assert.equal(h.status, 200, 'the node itself is healthy');
    assert.equal(h.body.engine.state, 'down');
    const refused = await pub(a, 't', { i: 'refused' });
    assert.equal(refused.status, 503);
    assert.match(JSON.stringify(refused), /the cluster engine is unavailable/);
    assert.equal((await sub(a, 'other')).status, 503);
    assert.equal((await presence(b, 't')).status, 503);
    const local = await a.request({ method: 'POST', url: '/math/add', args: { x: 2, y: 3 } });
    assert.equal(local.status, 200, 'what needs no engine keeps working');
    const metrics = await (await fetch(`http://127.0.0.1:${nodes[1].port}/_/metrics`)).text();
    assert.match(metrics, /^wsrouter_engine_up 0$/m);
    // Alive, but not to be sent traffic: /_/ready says why.
    const ready = await fetch(`http://127.0.0.1:${nodes[0].port}/_/ready`);
    assert.equal(ready.status, 503);
    assert.equal((await ready.json()).status, 'engine down');
    // The shared store notices by its own idle PING (every second) or its next command.
    for (let i = 0; i < 100 && h.body.store.state !== 'down'; i++) {
      await sleep(100);
      h = await health(nodes[0]);
    }
    assert.deepEqual(h.body.store, { kind: 'redis', state: 'down' });
    const accepted = during.filter((r) => r.status === 200).length;
    assert.ok(during.every((r) => r.status === 200 || r.status === 503), 'only 200s and 503s');

    // Redis back on the same port (empty: no persistence).
    const again = await startRedis({ port: redis.port, dir: redis.dir });
    try {
      const until = Date.now() + 20000;
      let states;
      do {
        states = await Promise.all(nodes.map(async (n) => (await health(n)).body.engine.state));
        if (states.some((s) => s !== 'up')) await sleep(100);
      } while (states.some((s) => s !== 'up') && Date.now() < until);
      assert.deepEqual(states, ['up', 'up'], 'both nodes reconnected by themselves');
      let readyAgain;
      for (let i = 0; i < 100 && readyAgain !== 200; i++) {
        readyAgain = (await fetch(`http://127.0.0.1:${nodes[0].port}/_/ready`)).status;
        if (readyAgain !== 200) await sleep(100);
      }
      assert.equal(readyAgain, 200, 'ready again once Redis is back');
      const before = [a.pubs.length, b.pubs.length];
      // Redis killed -9 and back empty: a publication it had taken when it
      // died may have reached one node's subscriber and not the other's (its
      // output buffers were not all written), and its 200 may have been lost
      // with it; Redis kept no history to catch up from. So each node saw
      // the same publications in the same order, up to the last one or two.
      const seen = [a, b].map((p) => p.pubs.map((m) => m.data.i));
      const common = Math.min(before[0], before[1]);
      assert.deepEqual(seen[0].slice(0, common), seen[1].slice(0, common), 'the same publications, in order');
      assert.ok(Math.abs(before[0] - before[1]) <= 2, `the nodes differ by at most the publications in flight at the kill (${before})`);
      for (const n of before) assert.ok(n >= 20 && n <= 20 + accepted + 1, `${n} publications seen, ${accepted} accepted during the outage`);
      for (let i = 100; i < 110; i++) assert.equal((await pub(i % 2 ? b : a, 't', { i })).status, 200);
      await waitFor(() => a.pubs.length >= before[0] + 10 && b.pubs.length >= before[1] + 10, 10000, 'the publications after recovery');
      await sleep(300);
      for (const p of [a, b]) {
        const after = p.pubs.slice(-10);
        assert.deepEqual(after.map((m) => m.data.i), Array.from({ length: 10 }, (_, k) => 100 + k));
        const ids = p.pubs.map((m) => JSON.stringify(m.data));
        assert.equal(new Set(ids).size, ids.length, 'no publication twice');
      }
      const m2 = await (await fetch(`http://127.0.0.1:${nodes[1].port}/_/metrics`)).text();
      assert.match(m2, /^wsrouter_engine_up 1$/m);
      assert.match(m2, /^wsrouter_engine_reconnects_total [1-9]/m);
      for (const p of [a, b]) assert.equal((await presence(p, 't')).data.count, 2, 'presence re-established');
      await stopAll(nodes);
    } finally {
      await again.stop();
    }
  } finally {
    for (const n of nodes) await n.stop('SIGKILL').catch(() => {});
    rmSync(redis.dir, { recursive: true, force: true });
  }
});

test('a node stopping with a stuck handler stops its engine first: publications arriving meanwhile touch nothing freed', async () => {
  // Past shutdown_timeout_ms a stuck handler keeps the factory; the engine's
  // thread must still stop before the loops it delivers into are disposed
  // (a use-after-free under ASan before: the process did not exit 0).
  await withCluster(2, async ({ nodes }) => {
    const [a, b] = [await Peer.open(nodes[0].url), await Peer.open(nodes[1].url)];
    assert.equal((await sub(a, 'busy')).status, 200);
    a.c.send(JSON.stringify({ method: 'GET', url: '/diag/sleep', args: { ms: 20000 }, id: 'stuck' }));
    for (let i = 0; i < 200; i++) {
      const st = await b.request({ cmd: 'stats' });
      const mine = await a.request({ cmd: 'stats' });
      if (mine.data.workers.busy === 1 && st.status === 200) break;
      await sleep(25);
    }
    // Publications to its topic and pushes to its connection keep coming
    // from node B while node A stops: its engine thread receives them.
    const target = (await a.request({ cmd: 'whoami' })).data.connection;
    let publishing = true;
    const publisher = (async () => {
      for (let i = 0; publishing && i < 20000; i++) {
        await pub(b, 'busy', { i });
        await b.request({ method: 'POST', url: '/diag/push', args: { to: target, count: 20, event: 'late' } });
      }
    })();
    await waitFor(() => a.pubs.length >= 20, 10000, 'publications reaching the stopping node');
    const t0 = Date.now();
    const { code, signal } = await nodes[0].stop('SIGTERM', 15000);
    publishing = false;
    await publisher;
    assert.deepEqual([code, signal], [0, null], nodes[0].stderr());
    assert.ok(Date.now() - t0 < 10000, 'past the deadline the node exits whatever its handler does');
    assert.match(nodes[0].stderr(), /still running past the shutdown deadline/);
  }, ['--set', 'shutdown_timeout_ms=1000']);
});

test('a Redis that answers but refuses writes (maxmemory reached) is a 503, not a 500, and service comes back', async () => {
  await withCluster(1, async ({ redis, nodes }) => {
    const a = await Peer.open(nodes[0].url);
    assert.equal((await pub(a, 'full', { i: 0 })).status, 200);
    assert.equal(await redisCommand(redis.port, 'CONFIG', 'SET', 'maxmemory-policy', 'noeviction'), '+OK');
    assert.equal(await redisCommand(redis.port, 'CONFIG', 'SET', 'maxmemory', '1'), '+OK');
    try {
      const refused = await pub(a, 'full', { i: 1 });
      assert.equal(refused.status, 503, JSON.stringify(refused));
      assert.match(refused.detail, /the cluster engine is unavailable/);
    } finally {
      assert.equal(await redisCommand(redis.port, 'CONFIG', 'SET', 'maxmemory', '0'), '+OK');
    }
    assert.equal((await pub(a, 'full', { i: 2 })).status, 200);
  });
});

test('a node refuses to start when Redis cannot be reached, naming it', async () => {
  const port = await freePort();
  await assert.rejects(startServer(['--set', `engine=redis://127.0.0.1:${port}`]),
    new RegExp(`the cluster engine is unavailable: cannot (connect to|reach Redis at) 127\\.0\\.0\\.1:${port}`));
});

test('the JS client behind nginx fails over to the other node when its own dies, resuming with nothing lost', async () => {
  const TOTAL = 300;
  await withCluster(2, async ({ nodes }) => {
    const scratch = mkdtempSync(join(tmpdir(), 'wsrd-cluster-nginx-'));
    const nginx = await startNginx({ ws: nodes.map((n) => n.port), certDir: scratch });
    try {
      const client = await WsRouter.connect(`${nginx.url}/`, {
        WebSocket, reconnectDelay: 20, reconnectMaxDelay: 200, maxReconnects: 100,
      });
      const got = [];
      const resumed = [];
      client.addEventListener('resubscribed', (ev) => resumed.push(ev.detail));
      const start = await client.subscribe('feed', (data, msg) => got.push([msg.offset, data]));
      // Which node nginx chose: the node id is in the connection id.
      const mine = (await client.call('whoami')).connection;
      const nodeOf = (id) => Math.floor(id / 2 ** 44) % 512;
      const ids = await Promise.all(nodes.map(async (n) => (await health(n)).body.engine.node));
      const dies = ids.indexOf(nodeOf(mine));
      assert.notEqual(dies, -1, `connection ${mine} is on one of the nodes ${ids}`);
      const survivor = nodes[1 - dies];
      const publisher = await Peer.open(survivor.url);
      for (let i = 1; i <= TOTAL; i++) {
        assert.equal((await pub(publisher, 'feed', i)).status, 200);
        if (i === 100) {
          nodes[dies].proc.kill('SIGKILL');
          await nodes[dies].exited;
        }
      }
      await waitFor(() => got.length >= TOTAL, 30000, `all ${TOTAL} publications (got ${got.length})`);
      await sleep(200);
      assert.equal(got.length, TOTAL, 'nothing twice');
      assert.deepEqual(got, Array.from({ length: TOTAL }, (_, i) => [i + 1, i + 1]));
      assert.ok(resumed.length >= 1 && resumed.every((r) => r.recovered === true && r.epoch === start.epoch),
        JSON.stringify(resumed));
      const now = (await client.call('whoami')).connection;
      assert.equal(nodeOf(now), ids[1 - dies], 'now served by the survivor');
      client.close();
    } finally {
      await nginx.stop();
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});

test('a node id is leased: a starting node skips the ids live nodes hold, and the lease is renewed', async () => {
  await withCluster(0, async ({ redis }) => {
    // As if nodes 1 and 2 were live (the counter wrapped round to them).
    assert.equal(await redisCommand(redis.port, 'SET', 'wsr:node:1', 'someone', 'PX', '60000'), '+OK');
    assert.equal(await redisCommand(redis.port, 'SET', 'wsr:node:2', 'someone', 'PX', '60000'), '+OK');
    const node = await startServer(nodeArgs(redis));
    try {
      assert.equal(await nodeId(node), 3);
      assert.equal(await redisCommand(redis.port, 'EXISTS', 'wsr:node:3'), ':1');
      // Renewed by the heartbeat (every 3 s): the lease never runs out while the node lives.
      const first = Number((await redisCommand(redis.port, 'PTTL', 'wsr:node:3')).slice(1));
      assert.ok(first > 0 && first <= 10000, `a lease of at most 10 s (${first})`);
      // Between renewals the time to live only falls; a renewal raises it.
      let last = first;
      await waitFor(async () => {
        const now = Number((await redisCommand(redis.port, 'PTTL', 'wsr:node:3')).slice(1));
        const renewed = now > last;
        last = now;
        return renewed;
      }, 8000, 'the lease renewed');
      // A second node takes the next free id.
      const other = await startServer(nodeArgs(redis));
      try {
        assert.equal(await nodeId(other), 4);
      } finally {
        assert.equal((await other.stop()).code, 0, other.stderr());
      }
    } finally {
      assert.equal((await node.stop()).code, 0, node.stderr());
    }
  });
});

test('a catch-up Redis refuses (NOPERM on XRANGE) skips nothing: the publications missed come once the read is allowed', async () => {
  await withCluster(0, async ({ redis }) => {
    // Node A connects as a user of its own, whose rights the test changes.
    assert.equal(await redisCommand(redis.port, 'ACL', 'SETUSER', 'nodea', 'on', '>pw-of-a', '~*', '&*', '+@all'), '+OK');
    const a = await startServer(['--modules', 'all', '--set', `engine=redis://nodea:pw-of-a@127.0.0.1:${redis.port}`]);
    const b = await startServer(nodeArgs(redis));
    try {
      const onA = await Peer.open(a.url), onB = await Peer.open(b.url);
      assert.equal((await sub(onA, 'gap')).status, 200);
      assert.equal((await pub(onB, 'gap', { n: 1 })).status, 200);
      await waitFor(() => onA.pubs.length === 1, 10000, 'the first publication on A');
      // A loses its subscription (Redis 7 disconnects a user's subscribers when
      // its channels are taken away) and may not read the history either.
      assert.equal(await redisCommand(redis.port, 'ACL', 'SETUSER', 'nodea', 'resetchannels', '-xrange'), '+OK');
      await waitFor(async () => (await health(a)).body.engine?.state !== 'up', 10000, 'A\'s engine down');
      for (const n of [2, 3]) assert.equal((await pub(onB, 'gap', { n })).status, 200);
      // Channels back, history still refused: A reconnects but cannot catch up.
      assert.equal(await redisCommand(redis.port, 'ACL', 'SETUSER', 'nodea', '&*'), '+OK');
      await sleep(3000);
      assert.deepEqual(onA.pubs.map((m) => m.offset), [1], 'nothing out of order, nothing skipped');
      // Reading allowed again: the catch-up delivers what A missed, once, in order.
      assert.equal(await redisCommand(redis.port, 'ACL', 'SETUSER', 'nodea', '+xrange'), '+OK');
      await waitFor(() => onA.pubs.length >= 3, 15000, 'the missed publications on A');
      assert.equal((await pub(onB, 'gap', { n: 4 })).status, 200);
      await waitFor(() => onA.pubs.length >= 4, 10000, 'the next publication on A');
      await sleep(200);
      assert.deepEqual(onA.pubs.map((m) => m.offset), [1, 2, 3, 4]);
      assert.deepEqual(onA.pubs.map((m) => m.data.n), [1, 2, 3, 4]);
    } finally {
      for (const node of [a, b]) assert.equal((await node.stop()).code, 0, node.stderr());
    }
  });
});

test('pushes flooding a node\'s channel while it starts touch nothing unmade (its loops come after its engine)', async () => {
  await withCluster(0, async ({ redis }) => {
    // The next node takes id 7; pushes to a connection id of node 7 flood in
    // before, while and after it makes its event loops.
    assert.equal(await redisCommand(redis.port, 'SET', 'wsr:nodes', '6'), '+OK');
    const id = ((7n << 44n) | (1n << 32n)).toString();
    const msg = `${id}\n{"event_name":"flood"}`;
    const one = `*3\r\n$7\r\nPUBLISH\r\n$11\r\nwsr:push:7\r\n$${Buffer.byteLength(msg)}\r\n${msg}\r\n`;
    const flooder = net.connect(redis.port, '127.0.0.1');
    flooder.on('data', () => {});
    flooder.on('error', () => {});
    await once(flooder, 'connect');
    let sent = 0;
    const timer = setInterval(() => { if (sent < 200000) { flooder.write(one.repeat(100)); sent += 100; } }, 2);
    let node;
    try {
      node = await startServer(nodeArgs(redis));
      assert.equal(await nodeId(node), 7);
      await sleep(500);
    } finally {
      clearInterval(timer);
      flooder.destroy();
    }
    try {
      assert.ok(sent > 0);
      const p = await Peer.open(node.url);
      assert.equal((await pub(p, 'after', { ok: true })).status, 200);
    } finally {
      // A race on the loops (TSan) or a crash makes this exit non-zero.
      const { code, signal } = await node.stop();
      assert.deepEqual([code, signal], [0, null], node.stderr());
    }
  });
});

test('a Redis that stalls holds up no event loop: pubsub requests wait on the engine\'s queue, the rest is answered meanwhile', async () => {
  await withCluster(1, async ({ redis, nodes }) => {
    const a = await Peer.open(nodes[0].url), b = await Peer.open(nodes[0].url);
    assert.equal((await sub(a, 'slow')).status, 200);
    // Redis answers nothing for 1 s (CLIENT PAUSE: every client, every command).
    assert.equal(await redisCommand(redis.port, 'CLIENT', 'PAUSE', '1000', 'ALL'), '+OK');
    const order = [];
    const published = pub(a, 'slow', { n: 1 }).then((r) => { order.push('publish'); return r; });
    await sleep(50);
    // One event loop (io_threads=1): the ping shares it with the publish.
    const pong = await b.request({ cmd: 'ping' });
    order.push('ping');
    assert.equal(pong.data, 'PONG');
    const r = await published;
    assert.equal(r.status, 200, JSON.stringify(r));
    assert.deepEqual(order, ['ping', 'publish'], 'the ping was not held behind Redis');
    await waitFor(() => a.pubs.length === 1, 10000, 'the publication');
    // A connection closing while its subscribe waits on the queue leaves no
    // subscription behind (its drop runs after it, in order).
    assert.equal(await redisCommand(redis.port, 'CLIENT', 'PAUSE', '500', 'ALL'), '+OK');
    const c = await Peer.open(nodes[0].url);
    c.c.send(JSON.stringify({ method: 'POST', url: '/_/subscribe', args: { topic: 'slow' }, id: 1 }));
    await sleep(50);
    await c.c.close();
    await sleep(1000);
    const count = (await presence(b, 'slow')).data.count;
    assert.equal(count, 1, 'only a\'s subscription is left');
  }, ['--set', 'io_threads=1']);
});

test('a handler on an event loop publishing or pushing to another node waits on no stalled Redis: queued, in order, delivered once Redis answers', async () => {
  await withCluster(2, async ({ redis, nodes }) => {
    const a = await Peer.open(nodes[0].url), b = await Peer.open(nodes[0].url);
    const watcher = await Peer.open(nodes[1].url), target = await Peer.open(nodes[1].url);
    assert.equal((await sub(watcher, 'loopy')).status, 200);
    const to = (await target.request({ cmd: 'whoami' })).data.connection;
    // Redis answers nothing for 1.5 s (CLIENT PAUSE: every client, every
    // command; under the engine's 2 s command timeout, past which Redis
    // counts as down).
    assert.equal(await redisCommand(redis.port, 'CLIENT', 'PAUSE', '1500', 'ALL'), '+OK');
    const paused = Date.now();
    const answers = [];
    for (const n of [1, 2]) answers.push(await a.request({ method: 'POST', url: '/diag/announce', args: { topic: 'loopy' }, data: { n } }));
    answers.push(await a.request({ method: 'POST', url: '/diag/push', args: { to, event: 'across' }, data: 'p' }));
    // One event loop (io_threads=1): b shares it with a's handlers.
    assert.equal((await b.request({ cmd: 'ping' })).data, 'PONG');
    const answered = Date.now() - paused;
    assert.deepEqual(answers.map((r) => r.status), [200, 200, 200], JSON.stringify(answers));
    assert.equal(answers[2].data.pushed, 1);
    assert.ok(answered < 1000, `answered while Redis was paused (${answered} ms of 1500)`);
    assert.equal(watcher.pubs.length + target.pushes.length, 0, 'nothing could have crossed Redis yet');
    await waitFor(() => watcher.pubs.length === 2 && target.pushes.length === 1, 15000, 'the publications and the push')
      .catch((e) => { throw new Error(`${e.message}: ${JSON.stringify([watcher.pubs, target.pushes])}\n${nodes[0].stderr()}\n${nodes[1].stderr()}`); });
    assert.deepEqual(watcher.pubs.map((m) => m.data.n), [1, 2], 'in order');
    assert.deepEqual(target.pushes.map((m) => [m.event_name, m.data.data]), [['across', 'p']]);
    // From a worker (a blocking route) the publication still waits for Redis:
    // the counters route's publication reaches the other node as before.
    assert.equal((await sub(watcher, 'counters')).status, 200);
    assert.equal((await a.request({ method: 'POST', url: '/counters/k/increment' })).status, 200);
    await waitFor(() => watcher.pubs.some((m) => m.topic === 'counters'), 10000, 'the counter\'s publication');
    await sleep(300);
    assert.equal(watcher.pubs.length, 3, 'each once');
  }, ['--set', 'io_threads=1']);
});

test('a publication queued from an event loop that Redis does not answer is logged, and later ones get through', async () => {
  await withCluster(1, async ({ redis, nodes }) => {
    const a = await Peer.open(nodes[0].url), watcher = await Peer.open(nodes[0].url);
    assert.equal((await sub(watcher, 'gone')).status, 200);
    // Past the engine's 2 s command timeout: Redis counts as lost meanwhile.
    assert.equal(await redisCommand(redis.port, 'CLIENT', 'PAUSE', '3000', 'ALL'), '+OK');
    const r = await a.request({ method: 'POST', url: '/diag/announce', args: { topic: 'gone' }, data: 1 });
    assert.equal(r.status, 200, 'queued at once');
    await waitFor(() => /engine: a publication sent from an event loop failed: Redis did not answer/.test(nodes[0].stderr()), 15000, 'the log line');
    await waitFor(async () => (await health(nodes[0])).body.engine?.state === 'up', 20000, 'the engine back');
    const again = await a.request({ method: 'POST', url: '/diag/announce', args: { topic: 'gone' }, data: 2 });
    assert.equal(again.status, 200);
    await waitFor(() => watcher.pubs.some((m) => m.data === 2), 10000, 'the later publication');
    // The first may or may not have happened (Redis had it, unanswered), but never twice.
    assert.ok(watcher.pubs.filter((m) => m.data === 1).length <= 1, JSON.stringify(watcher.pubs));
  });
});

test('a publish still queued when it timed out (408) does not happen later: a retry publishes it once', async () => {
  await withCluster(1, async ({ redis, nodes }) => {
    const watcher = await Peer.open(nodes[0].url), p = await Peer.open(nodes[0].url);
    assert.equal((await sub(watcher, 'once')).status, 200);
    assert.equal(await redisCommand(redis.port, 'CLIENT', 'PAUSE', '1200', 'ALL'), '+OK');
    // The first holds the engine's queue (it is running, waiting on Redis);
    // the second waits behind it and times out there.
    const first = pub(p, 'once', 'first');
    await sleep(50);
    const second = await pub(p, 'once', 'second');
    assert.equal(second.status, 408, JSON.stringify(second));
    // The first was running: it happens (its 408 cannot say otherwise).
    assert.equal((await first).status, 408);
    await waitFor(() => watcher.pubs.length >= 1, 10000, 'the first publication');
    await sleep(500);
    assert.deepEqual(watcher.pubs.map((m) => m.data), ['first'], 'the timed-out queued one did not happen');
    const retry = await pub(p, 'once', 'second');
    assert.equal(retry.status, 200, JSON.stringify(retry));
    await waitFor(() => watcher.pubs.length === 2, 10000, 'the retried publication');
    assert.deepEqual(watcher.pubs.map((m) => m.data), ['first', 'second'], 'each once, in order');
  }, ['--set', 'request_timeout_ms=400']);
});

test('a node whose id another node took (its lease lapsed) keeps its engine down and says why', async () => {
  await withCluster(1, async ({ redis, nodes }) => {
    const id = await nodeId(nodes[0]);
    // As if the lease had lapsed during an outage and another node had claimed it.
    assert.equal(await redisCommand(redis.port, 'SET', `wsr:node:${id}`, 'another-node', 'PX', '60000'), '+OK');
    await waitFor(async () => (await health(nodes[0])).body.engine.state === 'down', 10000, 'the engine down');
    await waitFor(() => /node id \d+ was taken by another node/.test(nodes[0].stderr()), 5000, 'the log line');
    assert.equal((await fetch(`http://127.0.0.1:${nodes[0].port}/_/ready`)).status, 503);
    const p = await Peer.open(nodes[0].url);
    assert.equal((await pub(p, 'x', 1)).status, 503, 'pubsub refused, not mixed with the other node');
    assert.equal(await redisCommand(redis.port, 'GET', `wsr:node:${id}`), '$12', 'the other node\'s lease left alone');
  });
});

test('a publish sent just before its connection closes still happens (it waits on the engine\'s queue)', async () => {
  await withCluster(1, async ({ redis, nodes }) => {
    const watcher = await Peer.open(nodes[0].url);
    assert.equal((await sub(watcher, 'last-words')).status, 200);
    const busy = await Peer.open(nodes[0].url);
    // Redis stalls; a first publish holds the engine's queue meanwhile.
    assert.equal(await redisCommand(redis.port, 'CLIENT', 'PAUSE', '700', 'ALL'), '+OK');
    const first = pub(busy, 'other', 1);
    await sleep(50);
    const gone = await Peer.open(nodes[0].url);
    gone.c.send(JSON.stringify({ method: 'POST', url: '/_/publish', args: { topic: 'last-words' }, data: 'bye', id: 1 }));
    await gone.c.close();
    assert.equal((await first).status, 200);
    await waitFor(() => watcher.pubs.length === 1, 10000, 'the publication of the closed connection');
    assert.equal(watcher.pubs[0].data, 'bye');
  });
});
