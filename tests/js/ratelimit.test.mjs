// SPDX-License-Identifier: MIT
// Request rate limits (issue 15 item 2; PROTOCOL.md section 9) against the
// real wsrouterd: a client flooding one connection gets 429s with
// retry_after_ms, then a 1008 close once it has sent twice its budget,
// while a well-behaved client beside it is served; the refusals are counted
// in /_/stats and /_/metrics; a route's own limit (user_create's) refuses
// only that route, per connection; a bad rate is refused at start.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { WSRD, connect, withServer, withTimeout } from './harness.mjs';

/** Sends `n` pings back to back; collects the replies until `n` came or
 * the connection closed. */
async function flood(c, n, tag) {
  for (let i = 0; i < n; i++) c.send(JSON.stringify({ cmd: 'ping', id: `${tag}${i}` }));
  const replies = [];
  let closed = null;
  c.closed.then((x) => { closed = x; });
  while (replies.length < n && closed === null) {
    try {
      replies.push(await c.nextJson(3000));
    } catch (e) {
      if (closed === null) throw e;
    }
  }
  // Fewer replies than requests: the close is on its way (or came).
  if (closed === null && replies.length < n) closed = await withTimeout(c.closed, 3000, 'the close');
  return { replies, closed };
}

const statuses = (replies) => replies.map((r) => r.status);

describe('rate limits', () => {
  test('a flooding connection gets 429s, then 1008 past twice its budget; the client beside it is served', async () => {
    await withServer(['--set', 'rate_limit_connection=50/s'], async (srv) => {
      const good = await connect(srv.url);
      const bad = await connect(srv.url);
      // 50 accepted (the burst), then 429s, the first one counted as debt
      // each: the 1008 close comes at about 100 requests, long before 300.
      const { replies, closed } = await flood(bad, 300, 'b');
      const ok = replies.filter((r) => r.status === 200).length;
      const refused = replies.filter((r) => r.status === 429);
      assert.ok(ok >= 50 && ok <= 60, `accepted ${ok}: ${statuses(replies).join(',')}`);
      assert.ok(refused.length >= 40, `refused ${refused.length}`);
      // Every request served before the close is answered: the 1008 goes
      // out after the replies already queued (about 100 of them here, sent
      // in one burst the server reads at once), not instead of them.
      assert.ok(ok + refused.length >= 95, `answered ${ok + refused.length}: ${statuses(replies).join(',')}`);
      assert.ok(replies.length < 300, 'the flooder was never closed');
      for (const r of refused) {
        assert.match(r.detail, /rate limit exceeded: at most 50 requests a second per connection/);
        assert.ok(Number.isInteger(r.retry_after_ms) && r.retry_after_ms >= 1, JSON.stringify(r));
        assert.ok(r.id.startsWith('b'));
      }
      assert.equal(closed?.code, 1008, `closed ${JSON.stringify(closed)}`);
      assert.match(closed.reason, /rate limit/);

      // The client beside it, on its own bucket, is served all along.
      for (let i = 0; i < 20; i++) {
        const r = await good.request({ cmd: 'ping', id: i });
        assert.equal(r.status, 200, JSON.stringify(r));
      }
      const stats = await good.request({ cmd: 'stats' });
      assert.equal(stats.status, 200);
      // Every refusal is counted: those seen, the one that closed it (the
      // close frame is its answer) and those still queued when the close
      // came (a closing connection's queue is dropped).
      const counted = stats.data.rate_limited.refused;
      assert.ok(counted > refused.length && counted <= 60, `counted ${counted}, seen ${refused.length}`);
      assert.equal(stats.data.rate_limited.closed, 1);
      const metrics = await fetch(`http://127.0.0.1:${srv.port}/_/metrics`).then((r) => r.text());
      assert.match(metrics, new RegExp(`^wsrouter_rate_limited_total ${counted}$`, 'm'));
      assert.match(metrics, /^wsrouter_rate_limit_closes_total 1$/m);
      await good.close();
    });
  });

  test('a client that waits retry_after_ms is served again', async () => {
    await withServer(['--set', 'rate_limit_connection=20/s', '--set', 'rate_burst=5'], async (srv) => {
      const c = await connect(srv.url);
      const { replies } = await flood(c, 7, 'x');
      assert.deepEqual(statuses(replies), [200, 200, 200, 200, 200, 429, 429]);
      const wait = replies[6].retry_after_ms;
      assert.ok(wait >= 50 && wait <= 200, `retry_after_ms ${wait}`);
      await new Promise((r) => setTimeout(r, wait + 20));
      assert.equal((await c.request({ cmd: 'ping' })).status, 200);
      await c.close();
    });
  });

  test('the client address limit is shared by its connections', async () => {
    await withServer(['--set', 'rate_limit_connection=off', '--set', 'rate_limit_address=40/s'],
      async (srv) => {
        const a = await connect(srv.url);
        const b = await connect(srv.url);
        const ra = await flood(a, 30, 'a');
        const rb = await flood(b, 30, 'b');
        const all = [...ra.replies, ...rb.replies];
        const ok = all.filter((r) => r.status === 200).length;
        assert.ok(ok >= 40 && ok <= 45, `accepted ${ok} of 60 from one address`);
        const refused = all.filter((r) => r.status === 429);
        assert.ok(refused.length >= 15);
        assert.match(refused[0].detail, /per client address/);
        await a.close();
        await b.close();
      });
  });

  test('the default limit lets a pipelining client through', async () => {
    await withServer([], async (srv) => {
      const c = await connect(srv.url);
      const { replies } = await flood(c, 2000, 'p');
      assert.equal(replies.filter((r) => r.status === 200).length, 2000);
      await c.close();
    });
  });

  test('a route\'s own limit (user_create, 5/s) refuses its flood; other routes and clients are served', async () => {
    // Each registration is a password hash (seconds under a sanitizer on a
    // loaded machine): the request deadline is no part of this test.
    await withServer(['--modules', 'examples', '--set', 'request_timeout_ms=300000'], async (srv) => {
      const good = await connect(srv.url);
      const bad = await connect(srv.url);
      const create = (c, tag, i) => c.send(JSON.stringify({
        cmd: 'user_create', id: `${tag}${i}`, args: { username: `${tag}user${i}`, password: 'secret-password' },
      }));
      // 8 back to back: the burst of 5 served (each a password hash), 3 refused at once.
      for (let i = 0; i < 8; i++) create(bad, 'b', i);
      const replies = [];
      while (replies.length < 8) replies.push(await bad.nextJson(240000));
      const refused = replies.filter((r) => r.status === 429);
      assert.equal(refused.length, 3, statuses(replies).join(','));
      assert.equal(replies.filter((r) => r.status === 200).length, 5, statuses(replies).join(','));
      for (const r of refused) {
        assert.match(r.detail, /rate limit exceeded: route 'user_create' takes at most 5 requests a second per connection/);
        assert.ok(Number.isInteger(r.retry_after_ms) && r.retry_after_ms >= 1, JSON.stringify(r));
      }
      // The same connection's other routes are not limited by it.
      for (let i = 0; i < 20; i++) assert.equal((await bad.request({ cmd: 'add', args: { x: i, y: 1 } })).status, 200);
      // A well-behaved client beside it registers on a bucket of its own.
      create(good, 'g', 0);
      assert.equal((await good.nextJson(240000)).status, 200);
      const stats = await good.request({ cmd: 'stats' });
      assert.equal(stats.data.rate_limited.by_route.user_create, 3);
      assert.equal(stats.data.rate_limited.refused, 3);
      const metrics = await fetch(`http://127.0.0.1:${srv.port}/_/metrics`).then((r) => r.text());
      assert.match(metrics, /^wsrouter_route_rate_limited_total\{route="user_create"\} 3$/m);
      assert.match(metrics, /^wsrouter_rate_limited_total 3$/m);
      await good.close();
      await bad.close();
    });
  });

  test('the capped tables are in stats and metrics: entries and overflow', async () => {
    await withServer(['--set', 'rate_limit_address=1000/s'], async (srv) => {
      const c = await connect(srv.url);
      assert.equal((await c.request({ cmd: 'ping' })).status, 200);
      const stats = await c.request({ cmd: 'stats' });
      const tables = stats.data.tables;
      assert.deepEqual(Object.keys(tables).sort(),
        ['login_address', 'login_user', 'rate_limit_address', 'rate_limit_user']);
      for (const t of Object.values(tables)) {
        assert.equal(t.max, 65536);
        assert.equal(t.overflow, 0);
      }
      // The loopback address has its bucket.
      assert.equal(tables.rate_limit_address.entries, 1);
      const metrics = await fetch(`http://127.0.0.1:${srv.port}/_/metrics`).then((r) => r.text());
      assert.match(metrics, /^# TYPE wsrouter_table_overflow_total counter$/m);
      assert.match(metrics, /^wsrouter_table_overflow_total\{table="rate_limit_address"\} 0$/m);
      assert.match(metrics, /^wsrouter_table_entries\{table="rate_limit_address"\} 1$/m);
      assert.match(metrics, /^wsrouter_table_entries\{table="login_user"\} 0$/m);
      await c.close();
    });
  });

  test('a rate that is not one is refused at start, naming the key', () => {
    const r = spawnSync(WSRD, ['--port', '0', '--store', '', '--set', 'rate_limit_user=fast'],
      { encoding: 'utf8', timeout: 10000 });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /rate_limit_user must be a rate: "1000\/s", "20000\/min"/);
  });
});
