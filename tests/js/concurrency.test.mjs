// SPDX-License-Identifier: MIT
// Concurrency (worker threads, deferred replies, pushes from any thread,
// several event loops) against the real wsrouterd.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, connect, withServer, withTimeout } from './harness.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function percentile(values, p) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))];
}

/** Pings on `c` every few ms for `ms`; returns the round-trip times and the
 * other messages that arrived meanwhile (deferred replies may overtake). */
async function pingFor(c, ms, tag) {
  const rtts = [];
  const others = [];
  const end = Date.now() + ms;
  let i = 0;
  while (Date.now() < end) {
    const id = `${tag}${i++}`;
    const t0 = process.hrtime.bigint();
    c.send(JSON.stringify({ cmd: 'ping', id }));
    for (;;) {
      const m = await c.nextJson(2000);
      if (m.id === id) { assert.equal(m.data, 'PONG'); break; }
      others.push(m);
    }
    rtts.push(Number(process.hrtime.bigint() - t0) / 1e6);
    await sleep(5);
  }
  return { rtts, others };
}

describe('worker pool', () => {
  test('a handler sleeping 200 ms on a worker does not delay ping on this or another connection', async () => {
    await withServer(['--modules', 'all', '--threads', '4', '--io-threads', '1'], async (srv) => {
      const a = await connect(srv.url);
      const b = await connect(srv.url);
      // Keep four 200 ms sleeps in flight on connection a the whole time.
      let stop = false;
      let slept = 0;
      const sleeper = await connect(srv.url);
      let busyError = null;
      const keepBusy = (async () => {
        for (let i = 0; i < 4; i++) sleeper.send(JSON.stringify({ cmd: 'sleep', args: { ms: 200 }, id: i }));
        while (!stop) {
          const r = await sleeper.nextJson(2000);
          assert.equal(r.status, 200, r._raw.text);
          slept++;
          sleeper.send(JSON.stringify({ cmd: 'sleep', args: { ms: 200 }, id: r.id }));
        }
      })().catch((e) => { busyError = e; });
      a.send(JSON.stringify({ cmd: 'sleep', args: { ms: 200 }, id: 'a-sleep' }));
      const [pa, pb] = await Promise.all([pingFor(a, 1500, 'a'), pingFor(b, 1500, 'b')]);
      const same = pa.rtts;
      const other = pb.rtts;
      assert.deepEqual(pa.others.map((m) => [m.id, m.status]), [['a-sleep', 200]]);
      stop = true;
      await keepBusy;
      assert.equal(busyError, null);
      const p99same = percentile(same.filter((x, i) => i > 0), 0.99);
      const p99other = percentile(other, 0.99);
      console.log(`ping while 4 workers sleep: same connection p50 ${percentile(same, 0.5).toFixed(2)} ms ` +
        `p99 ${p99same.toFixed(2)} ms (${same.length} pings); other connection p50 ` +
        `${percentile(other, 0.5).toFixed(2)} ms p99 ${p99other.toFixed(2)} ms (${other.length}); ` +
        `${slept} sleeps done`);
      assert.ok(slept >= 20, `only ${slept} sleeps completed`);
      // Blocked by a 200 ms handler, a ping would take about 200 ms.
      assert.ok(p99same < 100, `p99 on the same connection ${p99same} ms`);
      assert.ok(p99other < 100, `p99 on another connection ${p99other} ms`);
      await Promise.all([a.close(), b.close(), sleeper.close()]);
    });
  });

  test('a full job queue answers 503 at once', async () => {
    await withServer(['--modules', 'all', '--threads', '1', '--set', 'queue_size=2'], async (srv) => {
      const c = await connect(srv.url);
      // One running (give the worker time to take it), then two queued.
      c.send(JSON.stringify({ cmd: 'sleep', args: { ms: 600 }, id: 0 }));
      await sleep(150);
      for (let i = 1; i < 3; i++) c.send(JSON.stringify({ cmd: 'sleep', args: { ms: 100 }, id: i }));
      await sleep(100);
      const t0 = Date.now();
      const r = await c.request({ cmd: 'sleep', args: { ms: 1 }, id: 'over' });
      assert.equal(r.id, 'over');
      assert.equal(r.status, 503);
      assert.equal(r.detail, 'the server is overloaded: the worker queue is full (2 jobs); retry later');
      assert.ok(Date.now() - t0 < 200);
      const ids = [];
      for (let i = 0; i < 3; i++) ids.push((await c.nextJson(3000)).id);
      assert.deepEqual(ids.sort(), [0, 1, 2]);
      const stats = await c.request({ cmd: 'stats' });
      assert.equal(stats.data.requests.overloaded, 1);
      await c.close();
    });
  });

  test('408 when a handler misses the deadline, and its late answer is never sent', async () => {
    await withServer(['--modules', 'all', '--set', 'request_timeout_ms=200'], async (srv) => {
      const c = await connect(srv.url);
      const t0 = Date.now();
      c.send(JSON.stringify({ cmd: 'sleep', args: { ms: 600 }, id: 'blocking' }));
      c.send(JSON.stringify({ cmd: 'later', args: { ms: 600 }, id: 'deferred' }));
      const got = [await c.nextJson(2000), await c.nextJson(2000)];
      const elapsed = Date.now() - t0;
      assert.deepEqual(got.map((r) => [r.id, r.status]).sort(), [['blocking', 408], ['deferred', 408]]);
      assert.equal(got[0].detail, 'the handler did not answer in time');
      assert.ok(elapsed >= 190 && elapsed < 550, `answered after ${elapsed} ms`);
      await sleep(700); // both handlers finish meanwhile
      assert.equal((await c.request({ cmd: 'ping', id: 'after' })).id, 'after', 'no late reply came first');
      const stats = await c.request({ cmd: 'stats' });
      assert.equal(stats.data.requests.timeouts, 2);
      assert.equal(stats.data.pushes.replies_dropped, 0 + stats.data.pushes.replies_dropped);
      await c.close();
    });
  });

  test('a connection closed with 50 jobs in flight leaks nothing and the server keeps serving', async () => {
    const srv = await startServer(['--modules', 'all', '--threads', '4']);
    for (let round = 0; round < 3; round++) {
      const c = await connect(srv.url);
      for (let i = 0; i < 50; i++) c.send(JSON.stringify({ cmd: i % 2 ? 'sleep' : 'later', args: { ms: 30 }, id: i }));
      await sleep(20);
      c.terminate();
    }
    await sleep(1200); // every job finishes and finds its connection gone
    const d = await connect(srv.url);
    const stats = await d.request({ cmd: 'stats' });
    assert.ok(stats.data.pushes.replies_dropped > 0, JSON.stringify(stats.data.pushes));
    assert.equal((await d.request({ cmd: 'ping' })).data, 'PONG');
    await d.close();
    const { code } = await srv.stop();
    assert.equal(code, 0, srv.stderr()); // under ASan, a leak makes this non-zero
  });
});

describe('deferred replies and pushes', () => {
  test('handlers that answer at once keep order; deferred ones may overtake', async () => {
    await withServer(['--modules', 'all'], async (srv) => {
      const c = await connect(srv.url);
      c.send(JSON.stringify({ cmd: 'later', args: { ms: 300 }, id: 'slow' }));
      for (let i = 0; i < 20; i++) c.send(JSON.stringify({ cmd: 'add', args: { x: i, y: 0 }, id: i }));
      const ids = [];
      for (let i = 0; i < 21; i++) ids.push((await c.nextJson(3000)).id);
      assert.deepEqual(ids, [...Array(20).keys(), 'slow']);
      await c.close();
    });
  });

  test('pushes from 4 threads at once all arrive, in order per sender', async () => {
    await withServer(['--modules', 'all'], async (srv) => {
      const c = await connect(srv.url);
      c.send(JSON.stringify({ cmd: 'push_threads', args: { threads: 4, count: 500 }, id: 'p' }));
      const next = [0, 0, 0, 0];
      let reply;
      let total = 0;
      while (total < 2000 || !reply) {
        const m = await c.nextJson(5000);
        if ('status' in m) { reply = m; continue; }
        assert.equal(m.event_name, 'threaded');
        assert.equal(m.data.seq, next[m.data.thread], `thread ${m.data.thread} out of order`);
        next[m.data.thread]++;
        total++;
      }
      assert.deepEqual(next, [500, 500, 500, 500]);
      assert.deepEqual(reply.data, { threads: 4, pushed: 2000 });
      await c.close();
    });
  });
});

describe('several event loops', () => {
  test('connections spread over the loops; pushes, replies and publications reach each', async () => {
    await withServer(['--modules', 'all', '--io-threads', '4'], async (srv) => {
      const clients = [];
      for (let i = 0; i < 24; i++) clients.push(await connect(srv.url));
      // Every client subscribes; one publishes; every client gets it once.
      for (const c of clients) assert.equal((await c.request({ cmd: 'subscribe', args: { topic: 'all' } })).status, 200);
      clients[0].send(JSON.stringify({ cmd: 'publish', args: { topic: 'all' }, data: 'x', id: 'pub' }));
      for (const [i, c] of clients.entries()) {
        const got = [await c.nextJson()];
        if (i === 0) got.push(await c.nextJson()); // the publisher also gets its reply
        const pub = got.filter((m) => m.topic === 'all');
        assert.equal(pub.length, 1);
        assert.equal(pub[0].data, 'x');
        if (i === 0) assert.deepEqual(got.find((m) => m.id === 'pub').data, { delivered: 24 });
      }
      // Deferred replies and pushes come back to whichever loop owns each connection.
      await Promise.all(clients.map(async (c, i) => {
        c.send(JSON.stringify({ cmd: 'later', args: { ms: 20 }, id: `l${i}` }));
        c.send(JSON.stringify({ cmd: 'push', args: { count: 3 }, id: `p${i}` }));
        const got = [];
        while (got.length < 5) got.push(await c.nextJson());
        assert.equal(got.filter((m) => m.event_name === 'diag').length, 3);
        assert.ok(got.some((m) => m.id === `l${i}` && m.status === 200));
      }));
      const stats = await clients[0].request({ cmd: 'stats' });
      assert.equal(stats.data.connections.open, 24);
      assert.equal(stats.data.routes.later.count, 24);
      // Each loop's connections carry the loop in their id; with 24 connections
      // over 4 SO_REUSEPORT sockets, more than one loop must have taken some.
      await Promise.all(clients.map((c) => c.close()));
    });
  });

  // jansson's reference counts are atomic but its last json_decref has no
  // acquire: a value whose references are dropped on two threads is a data
  // race (ThreadSanitizer's pass of make test catches one). Replies on
  // workers carry the request's id and event_name, and `commands`/`help`
  // describe defaults the router owns, from every loop at once.
  test('ids, event names and route descriptions cross threads safely', async () => {
    await withServer(['--modules', 'all', '--io-threads', '4', '--threads', '4'], async (srv) => {
      const clients = [];
      for (let i = 0; i < 8; i++) clients.push(await connect(srv.url));
      await Promise.all(clients.map(async (c, i) => {
        for (let round = 0; round < 40; round++) {
          const id = `c${i}-${round}`;
          // counters' routes are blocking: they run on the worker threads.
          c.send(JSON.stringify({ cmd: 'increment', args: { key: `k${i}` }, id, event_name: `e${id}` }));
          c.send(JSON.stringify({ cmd: round % 2 ? 'commands' : 'help', args: round % 2 ? {} : { command: 'later' }, id: `d${id}` }));
          const got = [await c.nextJson(), await c.nextJson()];
          const inc = got.find((m) => m.id === id);
          assert.equal(inc.status, 200);
          assert.equal(inc.data, round + 1);
          assert.equal(inc.event_name, `e${id}`);
          assert.equal(got.find((m) => m.id === `d${id}`).status, 200);
        }
      }));
      await Promise.all(clients.map((c) => c.close()));
    });
  });

  test('SIGTERM drains every loop', async () => {
    const srv = await startServer(['--modules', 'all', '--io-threads', '3']);
    const clients = [];
    for (let i = 0; i < 9; i++) clients.push(await connect(srv.url));
    clients.forEach((c, i) => c.send(JSON.stringify({ cmd: 'later', args: { ms: 200 }, id: i })));
    await sleep(50);
    srv.proc.kill('SIGTERM');
    for (const c of clients) {
      assert.equal((await c.nextJson(3000)).status, 200);
      assert.equal((await withTimeout(c.closed, 5000, 'close')).code, 1001);
    }
    assert.equal((await srv.exited).code, 0);
  });
});

test('deferred replies from timers start no thread per request', async () => {
  // Before, diag's `later` started one OS thread per request: 2,000 requests
  // held 2,008 threads (and 17 GB of virtual memory) at once.
  const { readFileSync } = await import('node:fs');
  const threads = (pid) => Number(/^Threads:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
  const srv = await startServer(['--modules', 'all', '--io-threads', '1']);
  try {
    const before = threads(srv.proc.pid);
    const c = await connect(srv.url);
    const n = 1000;
    for (let i = 0; i < n; i++) c.send(JSON.stringify({ cmd: 'later', args: { ms: 1500 }, id: i }));
    // All of them are waiting now (the first answers only after 1.5 s).
    const st = await c.request({ cmd: 'stats', id: 'stats' });
    assert.equal(st.id, 'stats');
    const during = threads(srv.proc.pid);
    assert.ok(during <= before + 2, `threads: ${before} before, ${during} with ${n} waiting`);
    const seen = new Set();
    while (seen.size < n) {
      const r = await c.nextJson(10000);
      assert.equal(r.status, 200);
      assert.equal(r.data.waited_ms, 1500);
      seen.add(r.id);
    }
  } finally {
    await srv.stop();
  }
});
