// SPDX-License-Identifier: MIT
// Streaming calls, cancel and disconnect (PROTOCOL.md section 5.1), against
// the real wsrouterd and Node's `ws`: progress in order before the reply, a
// slow reader bounded by max_outbound, cancels of a blocking, a deferred and
// a streaming call (the handler sees it, the client gets 499 and nothing
// after), a neighbour's stream untouched, JSON-RPC's -32099.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { withServer, connect, withTimeout } from './harness.mjs';

const ARGS = ['--modules', 'all'];

/** Reads messages until the reply of `id` (a message with `status`), and
 * returns { progress: [...], reply }. Fails on a message of another call. */
async function collect(c, id, ms = 20000) {
  const progress = [];
  const deadline = Date.now() + ms;
  for (;;) {
    const m = await c.nextJson(Math.max(1, deadline - Date.now()));
    assert.equal(m.id, id, `a message of another call: ${m._raw.text}`);
    if ('status' in m) return { progress, reply: m };
    progress.push(m.progress);
  }
}

async function streamStats(c) {
  const r = await c.request({ method: 'GET', url: '/stream/stats', id: 'stats' });
  assert.equal(r.status, 200);
  return r.data;
}

test('progress arrives in order before the reply, with the id and event_name echoed', async () => {
  await withServer(ARGS, async ({ url }) => {
    const c = await connect(url);
    c.send(JSON.stringify({ cmd: 'count', args: { n: 50 }, id: 'c1', event_name: 'ev' }));
    const progress = [];
    for (;;) {
      const m = await c.nextJson();
      assert.equal(m.id, 'c1');
      assert.equal(m.event_name, 'ev');
      if ('status' in m) {
        assert.equal(m.status, 200);
        assert.deepEqual(m.data, { count: 50 });
        break;
      }
      assert.ok(!('status' in m));
      progress.push(m.progress.i);
    }
    assert.deepEqual(progress, Array.from({ length: 50 }, (_, i) => i + 1));
    // Base64 requests get base64 progress.
    const b64 = Buffer.from(JSON.stringify({ cmd: 'count', args: { n: 3 }, id: 9 })).toString('base64');
    c.send(b64);
    const seen = [];
    for (;;) {
      const m = await c.nextJson(5000, { base64: true });
      if ('status' in m) break;
      seen.push(m.progress.i);
    }
    assert.deepEqual(seen, [1, 2, 3]);
    // Without an id, no progress: only the reply.
    const r = await c.request({ cmd: 'count', args: { n: 5 } });
    assert.equal(r.status, 200);
    assert.deepEqual(r.data, { count: 5 });
    const stats = await c.request({ cmd: 'stats', id: 's' });
    assert.equal(stats.data.progress_dropped, 5);
    await c.close();
  });
});

test('a streaming ticker on the loop: progress in order, then the reply', async () => {
  await withServer(ARGS, async ({ url }) => {
    const c = await connect(url);
    c.send(JSON.stringify({ cmd: 'ticker', args: { n: 4, ms: 5 }, id: 't' }));
    const { progress, reply } = await collect(c, 't');
    assert.deepEqual(progress.map((p) => p.tick), [1, 2, 3, 4]);
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.data, { ticks: 4 });
    await c.close();
  });
});

test('100,000 progress messages to a slow reader stay within max_outbound', async () => {
  // A 256 KiB outbound cap and 1 KiB parts: without the window the queue
  // would pass the cap within milliseconds and the server close 1008.
  await withServer([...ARGS, '--set', `max_outbound=${256 * 1024}`], async ({ url }) => {
    const ws = new WebSocket(url);
    await withTimeout(new Promise((r, j) => { ws.once('open', r); ws.once('error', j); }), 5000, 'open');
    const closed = new Promise((r) => ws.once('close', (code) => r(code)));
    ws.send(JSON.stringify({ cmd: 'count', args: { n: 100000, pad: 1024 }, id: 'big' }));
    let next = 1;
    let reply = null;
    let pausedOnce = false;
    const done = new Promise((resolve, reject) => {
      ws.on('message', (data) => {
        const m = JSON.parse(data.toString());
        if ('status' in m) { reply = m; resolve(); return; }
        if (m.progress.i !== next) reject(new Error(`got ${m.progress.i}, expected ${next}`));
        next++;
        // Read slowly at first: stop reading for a while, twice.
        if ((next === 2000 || next === 30000) && !pausedOnce) {
          ws._socket.pause();
          setTimeout(() => ws._socket.resume(), 1500);
          if (next === 30000) pausedOnce = true;
        }
      });
      closed.then((code) => reject(new Error(`closed ${code} after ${next - 1} parts`)));
    });
    await withTimeout(done, 240000, 'the whole stream');
    assert.equal(next - 1, 100000);
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.data, { count: 100000 });
    ws.close();
    await withTimeout(closed, 5000, 'the close');
  });
});

test('cancel a streaming call mid-stream while a neighbour keeps its stream', async () => {
  await withServer(ARGS, async ({ url }) => {
    const a = await connect(url);
    const b = await connect(url);
    a.send(JSON.stringify({ cmd: 'count', args: { n: 200, ms: 10 }, id: 'a1' }));
    b.send(JSON.stringify({ cmd: 'count', args: { n: 60, ms: 10 }, id: 'a1' })); // same id, other connection
    // Let a's stream get going.
    const first = [];
    while (first.length < 5) {
      const m = await a.nextJson();
      assert.equal(m.id, 'a1');
      first.push(m.progress.i);
    }
    a.send(JSON.stringify({ cmd: 'cancel', args: { id: 'a1' }, id: 'x' }));
    // What follows on a: maybe a few parts sent before the cancel, then 499,
    // then the cancel's answer, and nothing of a1 after the 499.
    let got499 = false;
    let cancelAnswer = null;
    while (!cancelAnswer) {
      const m = await a.nextJson();
      if (m.id === 'x') { cancelAnswer = m; break; }
      assert.equal(m.id, 'a1');
      assert.ok(!got499, `a message of a1 after its 499: ${m._raw.text}`);
      if ('status' in m) {
        assert.equal(m.status, 499);
        assert.match(m.detail, /cancelled/);
        got499 = true;
      }
    }
    assert.ok(got499, 'the 499 came before the cancel answer');
    assert.equal(cancelAnswer.status, 200);
    assert.deepEqual(cancelAnswer.data, { cancelled: true });
    // The handler noticed (its worker stops at its next part).
    let stats;
    const deadline = Date.now() + 5000;
    do {
      stats = await streamStats(a);
    } while (stats.cancelled < 1 && Date.now() < deadline);
    assert.equal(stats.cancelled, 1);
    // Nothing more of a1 arrives on a: after a while, the next message is
    // the answer to a ping.
    await new Promise((r) => setTimeout(r, 300));
    const ping = await a.request({ cmd: 'ping', id: 'p' });
    assert.deepEqual([ping.id, ping.data], ['p', 'PONG']);
    // b got its whole stream.
    const { progress, reply } = await collect(b, 'a1');
    assert.deepEqual(progress.map((p) => p.i), Array.from({ length: 60 }, (_, i) => i + 1));
    assert.equal(reply.status, 200);
    // Cancelling what is not running answers false.
    const again = await a.request({ method: 'POST', url: '/_/cancel', args: { id: 'a1' }, id: 'y' });
    assert.deepEqual(again.data, { cancelled: false });
    const bad = await a.request({ cmd: 'cancel', args: { id: { no: 1 } }, id: 'z' });
    assert.equal(bad.status, 422);
    assert.ok(bad.errors.id);
    await a.close();
    await b.close();
  });
});

test('cancel a blocking call and a deferred one: 499 at once, the handler told', async () => {
  await withServer(ARGS, async ({ url }) => {
    const c = await connect(url);
    // Blocking: a worker sleeping 3 s; the 499 must not wait for it.
    c.send(JSON.stringify({ cmd: 'sleep', args: { ms: 3000 }, id: 1 }));
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    c.send(JSON.stringify({ cmd: 'cancel', args: { id: 1 }, id: 2 }));
    const r1 = await c.nextJson();
    assert.equal(r1.id, 1);
    assert.equal(r1.status, 499);
    const r2 = await c.nextJson();
    assert.deepEqual([r2.id, r2.data], [2, { cancelled: true }]);
    assert.ok(Date.now() - t0 < 1000, 'the 499 came at once');
    // Deferred on the loop (a ticker's timers): its timer runs at once and
    // sees the cancel.
    c.send(JSON.stringify({ cmd: 'ticker', args: { n: 1000, ms: 1000 }, id: 'd' }));
    await new Promise((r) => setTimeout(r, 50));
    const before = (await streamStats(c)).cancelled;
    c.send(JSON.stringify({ cmd: 'cancel', args: { id: 'd' }, id: 3 }));
    const rd = await c.nextJson();
    assert.deepEqual([rd.id, rd.status], ['d', 499]);
    assert.deepEqual((await c.nextJson()).data, { cancelled: true });
    assert.equal((await streamStats(c)).cancelled, before + 1);
    // The slept call's answer never comes.
    await assert.rejects(c.next(3500), /timed out/);
    await c.close();
  });
});

test('a disconnect cancels the running stream', async () => {
  await withServer(ARGS, async ({ url }) => {
    const a = await connect(url);
    a.send(JSON.stringify({ cmd: 'count', args: { n: 100000, ms: 1 }, id: 'gone' }));
    await a.nextJson();
    a.terminate();
    const c = await connect(url);
    const deadline = Date.now() + 5000;
    let s;
    do {
      s = await streamStats(c);
    } while (s.ended < 1 && Date.now() < deadline);
    assert.equal(s.ended, 1, 'the handler stopped when its connection went');
    assert.equal(s.cancelled, 0);
    await c.close();
  });
});

test('JSON-RPC: a cancelled call is error -32099; progress as notifications', async () => {
  await withServer(ARGS, async ({ url }) => {
    const c = await connect(url);
    c.send(JSON.stringify({ jsonrpc: '2.0', method: 'count', params: { n: 100, ms: 20 }, id: 5 }));
    const p = await c.nextJson();
    assert.deepEqual([p.jsonrpc, p.method, p.params.id, p.params.progress.i], ['2.0', 'progress', 5, 1]);
    c.send(JSON.stringify({ jsonrpc: '2.0', method: 'cancel', params: { id: 5 }, id: 6 }));
    let err;
    for (;;) {
      const m = await c.nextJson();
      if (m.method === 'progress') continue;
      err = m;
      break;
    }
    assert.equal(err.id, 5);
    assert.equal(err.error.code, -32099);
    assert.equal(err.error.data.status, 499);
    const ok = await c.nextJson();
    assert.deepEqual([ok.id, ok.result], [6, { cancelled: true }]);
    await c.close();
  });
});

// ---- the JS client (www/wsrouter.js) ----

const { WsRouter } = await import('../../www/wsrouter.js');

async function jsClient(url) {
  return WsRouter.connect(url, { WebSocket });
}

test('JS client: onProgress, the async iterator, and its result', async () => {
  await withServer(ARGS, async ({ url }) => {
    const c = await jsClient(url);
    const seen = [];
    const data = await c.call('count', { n: 20 }, { onProgress: (p) => seen.push(p.i) });
    assert.deepEqual(data, { count: 20 });
    assert.deepEqual(seen, Array.from({ length: 20 }, (_, i) => i + 1));
    const s = c.stream('ticker', { n: 3, ms: 5 });
    const ticks = [];
    for await (const p of s) ticks.push(p.tick);
    assert.deepEqual(ticks, [1, 2, 3]);
    assert.deepEqual(await s.result, { ticks: 3 });
    c.close();
  });
});

test('JS client: an AbortSignal and leaving a stream early cancel on the server', async () => {
  await withServer(ARGS, async ({ url }) => {
    const c = await jsClient(url);
    const ctl = new AbortController();
    let parts = 0;
    const p = c.call('count', { n: 100000, ms: 5 }, {
      signal: ctl.signal,
      onProgress: () => { if (++parts === 3) ctl.abort(); },
    });
    await assert.rejects(p, (e) => e.code === 'EABORTED');
    const stats = async () => c.get('/stream/stats');
    const deadline = Date.now() + 5000;
    while ((await stats()).cancelled < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal((await stats()).cancelled, 1, 'the server-side handler saw the cancel');
    const s = c.stream('ticker', { n: 100000, ms: 5 });
    let n = 0;
    for await (const _ of s) if (++n === 2) break;
    await assert.rejects(s.result, (e) => e.code === 'EABORTED');
    const deadline2 = Date.now() + 5000;
    while ((await stats()).cancelled < 2 && Date.now() < deadline2) await new Promise((r) => setTimeout(r, 20));
    assert.equal((await stats()).cancelled, 2, 'breaking out of the loop cancelled the ticker');
    c.close();
  });
});

test('input to a conversing handler, for an unknown id (404), and too much (429)', async () => {
  await withServer([...ARGS, '--set', 'max_call_input=4'], async ({ url }) => {
    const c = await connect(url);
    c.send(JSON.stringify({ cmd: 'converse', id: 'talk' }));
    for (const word of ['hello', { n: 2 }, [3]]) {
      c.send(JSON.stringify({ id: 'talk', input: word }));
      const m = await c.nextJson();
      assert.equal(m.id, 'talk');
      assert.ok(!('status' in m));
      assert.deepEqual(m.progress.echo, word);
    }
    c.send(JSON.stringify({ id: 'talk', input: 'bye' }));
    const done = await c.nextJson();
    assert.deepEqual([done.id, done.status, done.data], ['talk', 200, { turns: 4 }]);
    // The call is over: input for it is a 404, like input for an id never used.
    for (const id of ['talk', 12345]) {
      const r = await c.request({ id, input: 1 });
      assert.equal(r.id, id);
      assert.equal(r.status, 404);
      assert.match(r.detail, /no call with id .* is running/);
    }
    const bad = await c.request({ id: { x: 1 }, input: 1 });
    assert.equal(bad.status, 400);
    // A handler that does not listen for 1 s: past 4 waiting inputs, 429.
    c.send(JSON.stringify({ cmd: 'converse', args: { wait_ms: 1000 }, id: 'deaf' }));
    await new Promise((r) => setTimeout(r, 100));
    for (let i = 1; i <= 7; i++) c.send(JSON.stringify({ id: 'deaf', input: i }));
    const refused = [];
    for (let i = 0; i < 3; i++) refused.push(await c.nextJson());
    for (const r of refused) {
      assert.deepEqual([r.id, r.status], ['deaf', 429]);
      assert.match(r.detail, /max_call_input/);
    }
    // The four that fitted are answered in order once it listens.
    for (let i = 1; i <= 4; i++) {
      const m = await c.nextJson();
      assert.deepEqual([m.id, m.progress.echo], ['deaf', i]);
    }
    c.send(JSON.stringify({ id: 'deaf', input: 'bye' }));
    assert.deepEqual((await c.nextJson()).data, { turns: 5 });
    await c.close();
  });
});

test('JS client: input refused (429) neither rejects nor ends the call', async () => {
  await withServer([...ARGS, '--set', 'max_call_input=2'], async ({ url }) => {
    const c = await jsClient(url);
    const refused = [];
    c.addEventListener('inputrefused', (e) => refused.push(e.detail));
    const s = c.stream('converse', { wait_ms: 800 });
    await new Promise((r) => setTimeout(r, 100));
    for (let i = 1; i <= 4; i++) s.send(i); // two fit, two are refused
    const echoes = [];
    for await (const p of s) {
      echoes.push(p.echo);
      if (echoes.length === 2) s.send('bye');
    }
    assert.deepEqual(echoes, [1, 2]);
    assert.deepEqual(await s.result, { turns: 3 });
    assert.equal(refused.length, 2);
    for (const r of refused) {
      assert.equal(r.status, 429);
      assert.match(r.detail, /max_call_input/);
    }
    c.close();
  });
});

test('JS client: a conversation through stream().send()', async () => {
  await withServer(ARGS, async ({ url }) => {
    const c = await jsClient(url);
    const s = c.stream('converse');
    const echoes = [];
    s.send('one');
    for await (const p of s) {
      echoes.push(p.echo);
      if (p.turn === 1) s.send('two');
      else s.send('bye');
    }
    assert.deepEqual(echoes, ['one', 'two']);
    assert.deepEqual(await s.result, { turns: 3 });
    c.close();
  });
});
