// SPDX-License-Identifier: MIT
// Publication history and resume (docs/protocol.md section 5.2) against the real
// wsrouterd: offsets and epochs on publications, `since` on /_/subscribe and what
// it recovers or not, bad `since` shapes, and the JS client (www/wsrouter.js in
// Node, with `ws` injected) resuming by itself while its socket is killed at
// random moments under a steady stream of publications.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { withServer, startServer, connect, withTimeout, waitFor } from './harness.mjs';
import { WsRouter } from '../../www/wsrouter.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const subscribe = (c, args) => c.request({ method: 'POST', url: '/_/subscribe', args });
const publish = (c, topic, data) => c.request({ method: 'POST', url: '/_/publish', args: { topic }, data });

/** Publishes `n` times on `topic`, data 1..n, each answered. */
async function publishMany(c, topic, n) {
  for (let i = 1; i <= n; i++) assert.equal((await publish(c, topic, i)).status, 200);
}

/** The next `n` messages of `c`, parsed. */
async function take(c, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const m = await c.nextJson(5000);
    delete m._raw;
    out.push(m);
  }
  return out;
}

/**
 * Subscribes with `args` and collects the reply and the `n` publications that
 * follow it. The replayed publications may come before or after the reply
 * (docs/protocol.md section 5.2), never after a live one. Returns
 * {reply, pubs}.
 */
async function subscribeTake(c, args, n) {
  c.send(JSON.stringify({ method: 'POST', url: '/_/subscribe', args, id: 'sub' }));
  let reply = null;
  const pubs = [];
  while (reply === null || pubs.length < n) {
    const m = await c.nextJson(5000);
    delete m._raw;
    if ('status' in m) {
      assert.equal(reply, null, 'one reply');
      reply = m;
    } else {
      pubs.push(m);
    }
  }
  return { reply, pubs };
}

/** Asserts that nothing was replayed: the next message is a fresh publication. */
async function nextIsLive(sub, pub, topic, offset) {
  await publish(pub, topic, 'live');
  const [m] = await take(sub, 1);
  assert.equal(m.data, 'live', `expected the live publication first, got ${JSON.stringify(m)}`);
  assert.equal(m.offset, offset);
}

test('publications carry offsets and an epoch; since replays what was missed, then live', async () => {
  await withServer(['--set', 'history_size=100'], async ({ url }) => {
    const a = await connect(url);
    const pub = await connect(url);
    const start = (await subscribe(a, { topic: 'chat' })).data;
    assert.equal(start.subscribed, 'chat');
    assert.equal(start.offset, 0);
    assert.match(start.epoch, /^[0-9a-f]{12}$/);
    assert.equal('recovered' in start, false, 'no since, no recovered');
    await publishMany(pub, 'chat', 3);
    const got = await take(a, 3);
    assert.deepEqual(got.map((m) => [m.offset, m.epoch, m.data]),
      [[1, start.epoch, 1], [2, start.epoch, 2], [3, start.epoch, 3]]);
    assert.deepEqual(Object.keys(got[0]), ['event_name', 'topic', 'offset', 'epoch', 'data']);

    // Offsets count per topic.
    const other = await connect(url);
    await subscribe(other, { topic: 'other' });
    await publish(pub, 'other', 'x');
    const [o] = await take(other, 1);
    assert.equal(o.offset, 1);
    assert.notEqual(o.epoch, start.epoch);

    // A client that saw offset 1 resumes on a new connection: the reply, then
    // 2 and 3 in order, then live ones.
    const b = await connect(url);
    const { reply, pubs: [r2, r3] } = await subscribeTake(b, { topic: 'chat', since: { offset: 1, epoch: start.epoch } }, 2);
    assert.deepEqual(reply.data, { subscribed: 'chat', recovered: true, offset: 3, epoch: start.epoch });
    assert.deepEqual([r2.offset, r2.data, r3.offset, r3.data], [2, 2, 3, 3]);
    await nextIsLive(b, pub, 'chat', 4);

    // Up to date: recovered, nothing to replay. Since 0: everything kept.
    const c = await connect(url);
    assert.deepEqual((await subscribe(c, { topic: 'chat', since: { offset: 4, epoch: start.epoch } })).data,
      { subscribed: 'chat', recovered: true, offset: 4, epoch: start.epoch });
    await nextIsLive(c, pub, 'chat', 5);
    const d = await connect(url);
    const all = await subscribeTake(d, { topic: 'chat', since: { offset: 0, epoch: start.epoch } }, 5);
    assert.equal(all.reply.data.recovered, true);
    assert.deepEqual(all.pubs.map((m) => m.offset), [1, 2, 3, 4, 5]);
    // since null is no since.
    const e = await connect(url);
    assert.deepEqual((await subscribe(e, { topic: 'chat', since: null })).data,
      { subscribed: 'chat', offset: 5, epoch: start.epoch });
  });
});

test('recovered is false when the history does not cover the gap', async () => {
  await withServer(['--set', 'history_size=3', '--set', 'history_ttl_s=1'], async ({ url }) => {
    const pub = await connect(url);
    const first = await connect(url);
    const { epoch } = (await subscribe(first, { topic: 't' })).data;
    await publishMany(pub, 't', 5); // keeps 3, 4, 5

    const cases = [
      ['a gap older than the history', { offset: 1, epoch }],
      ['another epoch', { offset: 4, epoch: 'not-this-one' }],
      ['an offset ahead of the topic', { offset: 9, epoch }],
    ];
    let next = 6;
    for (const [what, since] of cases) {
      const c = await connect(url);
      const r = await subscribe(c, { topic: 't', since });
      assert.equal(r.status, 200, what);
      assert.deepEqual(r.data, { subscribed: 't', recovered: false, offset: next - 1, epoch }, what);
      await nextIsLive(c, pub, 't', next++); // nothing replayed, and subscribed all the same
    }
    // The oldest kept publication is just after since: covered.
    const ok = await connect(url);
    const r = await subscribeTake(ok, { topic: 't', since: { offset: next - 4, epoch } }, 3);
    assert.equal(r.reply.data.recovered, true);
    assert.deepEqual(r.pubs.map((m) => m.offset), [next - 3, next - 2, next - 1]);

    // Past history_ttl_s the kept publications are gone (the position stays).
    await sleep(1300);
    const late = await connect(url);
    const gone = await subscribe(late, { topic: 't', since: { offset: next - 2, epoch } });
    assert.deepEqual(gone.data, { subscribed: 't', recovered: false, offset: next - 1, epoch });
    await nextIsLive(late, pub, 't', next);
  });
});

test('history_size 0 (the default) recovers only a client that missed nothing', async () => {
  await withServer([], async ({ url }) => {
    const pub = await connect(url);
    const a = await connect(url);
    const { epoch } = (await subscribe(a, { topic: 'q' })).data;
    await publishMany(pub, 'q', 2);
    const b = await connect(url);
    assert.equal((await subscribe(b, { topic: 'q', since: { offset: 1, epoch } })).data.recovered, false);
    const c = await connect(url);
    assert.equal((await subscribe(c, { topic: 'q', since: { offset: 2, epoch } })).data.recovered, true);
    await nextIsLive(c, pub, 'q', 3);
  });
});

test('a malformed since is answered 400 with a sentence, and subscribes nothing', async () => {
  await withServer(['--set', 'history_size=10'], async ({ url }) => {
    const c = await connect(url);
    const long = 'e'.repeat(65);
    const bad = [
      ['x', /^since must be an object/],
      [[1, 'e'], /^since must be an object/],
      [7, /^since must be an object/],
      [{ epoch: 'e' }, /^since\.offset must be an integer from 0$/],
      [{ offset: -1, epoch: 'e' }, /^since\.offset must be an integer from 0$/],
      [{ offset: 1.5, epoch: 'e' }, /^since\.offset must be an integer from 0$/],
      [{ offset: '1', epoch: 'e' }, /^since\.offset must be an integer from 0$/],
      [{ offset: 1 }, /^since\.epoch must be a string of 1 to 64 bytes$/],
      [{ offset: 1, epoch: '' }, /^since\.epoch must be a string of 1 to 64 bytes$/],
      [{ offset: 1, epoch: long }, /^since\.epoch must be a string of 1 to 64 bytes$/],
      [{ offset: 1, epoch: 12 }, /^since\.epoch must be a string of 1 to 64 bytes$/],
    ];
    for (const [since, detail] of bad) {
      const r = await subscribe(c, { topic: 'b', since });
      assert.equal(r.status, 400, JSON.stringify(since));
      assert.match(r.detail, detail, JSON.stringify(since));
    }
    const pub = await connect(url);
    assert.deepEqual((await publish(pub, 'b', 1)).data, { delivered: 0 }, 'no subscription was made');
  });
});

test('JSON-RPC subscribers get offset and epoch in the notification', async () => {
  await withServer([], async ({ url }) => {
    const c = await connect(url, { protocols: 'jsonrpc2.0' });
    const r = await c.request({ jsonrpc: '2.0', method: 'subscribe', params: { topic: 'j' }, id: 1 });
    const { epoch } = r.result;
    const pub = await connect(url);
    await publish(pub, 'j', { n: 1 });
    const [m] = await take(c, 1);
    assert.deepEqual(m, { jsonrpc: '2.0', method: 'publish', params: { topic: 'j', offset: 1, epoch, data: { n: 1 } } });
  });
});

test('publishers on several event loops: every subscriber gets the offsets in order', async () => {
  const PUBLISHERS = 4;
  const EACH = 1000;
  await withServer(['--set', 'io_threads=3'], async ({ url }) => {
    const subs = [];
    for (let i = 0; i < 3; i++) {
      const c = await connect(url);
      assert.equal((await subscribe(c, { topic: 'fan' })).status, 200);
      subs.push(c);
    }
    const pubs = [];
    for (let i = 0; i < PUBLISHERS; i++) pubs.push(await connect(url));
    // Pipelined from every publisher at once: their loops race for the topic.
    await Promise.all(pubs.map(async (p, k) => {
      for (let i = 0; i < EACH; i++) {
        p.send(JSON.stringify({ method: 'POST', url: '/_/publish', args: { topic: 'fan' }, data: [k, i] }));
      }
      for (let i = 0; i < EACH; i++) assert.equal((await p.nextJson(10000)).status, 200);
    }));
    for (const c of subs) {
      const got = await take(c, PUBLISHERS * EACH);
      assert.deepEqual(got.map((m) => m.offset), Array.from({ length: PUBLISHERS * EACH }, (_, i) => i + 1));
      // Each publisher's own publications keep its order too.
      for (let k = 0; k < PUBLISHERS; k++) {
        const mine = got.filter((m) => m.data[0] === k).map((m) => m.data[1]);
        assert.deepEqual(mine, Array.from({ length: EACH }, (_, i) => i));
      }
    }
  });
});

/** A ws class whose sockets the test can kill (the client library gets it injected). */
function killableWebSocket() {
  const sockets = [];
  class Killable extends WebSocket {
    constructor(...args) {
      super(...args);
      sockets.push(this);
    }
  }
  return { Killable, sockets };
}

test('the JS client resumes through 20 killed sockets: offsets 1..1000, each once, in order', async () => {
  const TOTAL = 1000;
  const KILLS = 20;
  await withServer(['--set', `history_size=${TOTAL}`], async ({ url }) => {
    const { Killable, sockets } = killableWebSocket();
    const sub = await WsRouter.connect(`${url}/`, {
      WebSocket: Killable, reconnectDelay: 5, reconnectMaxDelay: 40, maxReconnects: 1000,
    });
    const got = [];
    const resumed = [];
    let reopened = 0;
    sub.addEventListener('resubscribed', (ev) => resumed.push(ev.detail));
    sub.addEventListener('open', (ev) => { reopened += ev.detail.reconnected ? 1 : 0; });
    const start = await sub.subscribe('feed', (data, msg) => got.push([msg.offset, data, msg.epoch]));
    assert.equal(start.offset, 0);
    assert.deepEqual(sub.position('feed'), { offset: 0, epoch: start.epoch });

    // The publications after which a socket dies: 20 random moments.
    const moments = new Set();
    while (moments.size < KILLS) moments.add(1 + Math.floor(Math.random() * (TOTAL - 50)));
    const pub = await connect(url);
    let owed = 0;
    let kills = 0;
    for (let i = 1; i <= TOTAL; i++) {
      const r = await publish(pub, 'feed', i);
      assert.equal(r.status, 200);
      if (moments.has(i)) owed++;
      // A socket that is down cannot be killed: the kill waits for the next one.
      const ws = sockets.at(-1);
      if (owed > 0 && ws.readyState === WebSocket.OPEN) {
        ws.terminate();
        owed--;
        kills++;
      }
      await sleep(Math.random() < 0.5 ? 1 : 3); // a steady stream, ~2 ms apart
    }
    await waitFor(() => owed === 0 || sockets.at(-1).readyState === WebSocket.OPEN, 10000, 'a socket to kill');
    if (owed > 0) {
      sockets.at(-1).terminate();
      owed--;
      kills++;
    }
    assert.equal(kills, KILLS);
    await waitFor(() => got.length >= TOTAL && reopened === KILLS, 20000,
      `all ${TOTAL} publications (got ${got.length}) and ${KILLS} reconnections (got ${reopened})`);
    await sleep(100); // anything repeated would arrive now
    assert.equal(got.length, TOTAL, 'nothing repeated');
    for (let i = 0; i < TOTAL; i++) {
      assert.deepEqual(got[i].slice(0, 2), [i + 1, i + 1], `publication ${i + 1}`);
      assert.equal(got[i][2], start.epoch);
    }
    // One resubscription per reconnection, less those whose socket was killed
    // before the answer came (the next reconnection resumed instead).
    assert.ok(resumed.length >= 1 && resumed.length <= KILLS, `${resumed.length} resubscriptions`);
    assert.ok(resumed.every((r) => r.topic === 'feed' && r.recovered === true && r.epoch === start.epoch),
      JSON.stringify(resumed));
    assert.deepEqual(sub.position('feed'), { offset: TOTAL, epoch: start.epoch });
    assert.ok(sockets.length > KILLS, 'a new socket after each kill');
    await sub.close();
    await pub.close();
  });
});

test('the JS client says recovered:false after a restart lost the history', async () => {
  const a = await startServer(['--set', 'history_size=10']);
  let b = null;
  try {
    const { Killable } = killableWebSocket();
    const sub = await WsRouter.connect(`${a.url}/`, { WebSocket: Killable, reconnectDelay: 10, reconnectMaxDelay: 50 });
    const got = [];
    const start = await sub.subscribe('news', (data) => got.push(data));
    const pub = await connect(a.url);
    await publish(pub, 'news', 'before');
    await waitFor(() => got.length === 1, 3000, 'the first publication');
    await pub.close();
    const resumed = withTimeout(new Promise((resolve) => {
      sub.addEventListener('resubscribed', (ev) => resolve(ev.detail), { once: true });
    }), 10000, 'the resubscribed event');
    await a.stop();
    b = await startServer(['--set', 'history_size=10', '--port', String(a.port)]);
    const r = await resumed;
    assert.equal(r.topic, 'news');
    assert.equal(r.recovered, false);
    assert.notEqual(r.epoch, start.epoch);
    // The client now stands at the new history's start, and goes on from there.
    assert.deepEqual(sub.position('news'), { offset: 0, epoch: r.epoch });
    const pub2 = await connect(b.url);
    await publish(pub2, 'news', 'after');
    await waitFor(() => got.length === 2, 3000, 'the publication after the restart');
    assert.deepEqual(got, ['before', 'after']);
    assert.deepEqual(sub.position('news'), { offset: 1, epoch: r.epoch });
    await pub2.close();
    await sub.close();
  } finally {
    await a.stop();
    if (b) assert.equal((await b.stop()).code, 0);
  }
});
