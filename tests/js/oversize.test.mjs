// SPDX-License-Identifier: MIT
// A reply bigger than max_outbound (issue 15 item 6) against the real
// wsrouterd: the reading client gets an error reply naming both sizes and
// keeps its connection (the 1008 close is for clients that do not read,
// connection.test.mjs); replies under the limit still go out whole. A
// JSON-RPC batch whose replies together pass it gets one JSON-RPC error.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { connect, withServer } from './harness.mjs';

describe('replies larger than max_outbound', () => {
  test('get a 500 naming the sizes, and the connection stays', async () => {
    await withServer(['--modules', 'all', '--set', 'max_outbound=64K'], async (srv) => {
      const c = await connect(srv.url);
      const other = await connect(srv.url);
      const r = await c.request({ method: 'GET', url: '/diag/big?bytes=100000', id: 'big' });
      assert.equal(r.status, 500, JSON.stringify(r).slice(0, 200));
      assert.equal(r.id, 'big');
      assert.match(r.detail, /^the reply is \d+ bytes, more than max_outbound \(65536 bytes\) lets the server queue for one connection$/);
      // Under the limit: whole, on the same connection.
      const ok = await c.request({ method: 'GET', url: '/diag/big?bytes=60000', id: 'ok' });
      assert.equal(ok.status, 200);
      assert.equal(ok.data.length, 60000);
      assert.equal((await c.request({ cmd: 'ping' })).data, 'PONG');
      assert.equal((await other.request({ cmd: 'ping' })).data, 'PONG');
      const stats = await other.request({ cmd: 'stats' });
      assert.equal(stats.data.closes['1008'] ?? 0, 0);
      await c.close();
      await other.close();
    });
  });

  test('a JSON-RPC batch whose replies pass it gets one error, and the connection stays', async () => {
    await withServer(['--modules', 'all', '--set', 'max_outbound=64K'], async (srv) => {
      const c = await connect(srv.url);
      // Three replies of 30,000 bytes each: each fits, together they do not.
      // The last element is answered later, from another thread (later).
      const big = (id) => ({ jsonrpc: '2.0', method: 'big', params: { bytes: 30000 }, id });
      const batch = [big(1), big(2), { jsonrpc: '2.0', method: 'later', params: { ms: 10 }, id: 3 }, big(4),
        { jsonrpc: '2.0', method: 'increment', params: { key: 'k' } }];
      // Parsed here: the harness's nextJson spreads what it parses into an object.
      const send = async (msg, ms = 10000) => {
        c.send(JSON.stringify(msg));
        return JSON.parse((await c.next(ms)).text);
      };
      const r = await send(batch);
      assert.ok(!Array.isArray(r), 'the batch was answered as an array');
      assert.equal(r.jsonrpc, '2.0');
      assert.equal(r.id, null);
      assert.equal(r.error.code, -32603);
      assert.equal(r.error.data.status, 500);
      assert.match(r.error.message, /^the replies to the batch's 5 requests are more than max_outbound \(65536 bytes\) lets the server queue for one connection; send fewer at a time$/);
      // Every element ran all the same: the notification counted.
      assert.equal((await c.request({ cmd: 'get', args: { key: 'k' } })).data, 1);
      // A batch that fits is answered whole on the same connection.
      const ok = await send([big(5), { jsonrpc: '2.0', method: 'ping', id: 6 }]);
      assert.ok(Array.isArray(ok));
      assert.equal(ok.length, 2);
      assert.equal(ok[0].result.length, 30000);
      assert.equal(ok[1].result, 'PONG');
      const stats = await c.request({ cmd: 'stats' });
      assert.equal(stats.data.closes['1008'] ?? 0, 0);
      await c.close();
    });
  });
});
