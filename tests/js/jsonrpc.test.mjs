// SPDX-License-Identifier: MIT
// JSON-RPC 2.0 (PROTOCOL.md section 10, and section 2's JSON detection)
// against the real wsrouterd, driven by JSON-RPC client libraries written
// elsewhere: rpc-websockets' Client (calls by name and by position,
// notifications, errors, and its events for server notifications) and
// json-rpc-2.0's JSONRPCClient and JSONRPCServerAndClient over `ws` (calls,
// batches, notifications from the server), plus raw `ws` for the exact bytes
// on the wire: batches whose answers complete out of order, the empty and the
// all-notifications batch, and every error code the server can produce.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { Client as RpcWsClient, CommonClient } from 'rpc-websockets';
import { JSONRPCClient, JSONRPCServerAndClient, JSONRPCServer, JSONRPCErrorException } from 'json-rpc-2.0';
import { WSRD, startServer, connect, withTimeout } from './harness.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** An rpc-websockets client, connected (no reconnection: a test ends it). */
async function rpcWs(url, factory) {
  const c = factory
    ? new CommonClient(factory, url, { reconnect: false })
    : new RpcWsClient(url, { reconnect: false });
  await withTimeout(new Promise((resolve, reject) => {
    c.once('open', resolve);
    c.once('error', reject);
  }), 5000, 'rpc-websockets to connect');
  return c;
}

/** json-rpc-2.0's client over a `ws` socket; `protocols` for the handshake. */
async function jsonRpc2(url, protocols) {
  const ws = new WebSocket(url, protocols);
  await withTimeout(new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  }), 5000, 'ws to connect');
  const peer = new JSONRPCServerAndClient(new JSONRPCServer(),
    new JSONRPCClient((payload) => ws.send(JSON.stringify(payload))));
  ws.on('message', (d) => { peer.receiveAndSend(JSON.parse(d.toString())); });
  return { ws, peer, client: peer.client, close: () => ws.close() };
}

/** Sends `text` and then a ping with id `after`: resolves with every message
 * that came before the ping's answer (answers given at once keep request
 * order, so "nothing" is told apart from "not yet" without a timeout). */
async function exchange(c, text, after = 'fence') {
  c.send(text);
  c.send(JSON.stringify({ jsonrpc: '2.0', method: 'ping', id: after }));
  const got = [];
  for (;;) {
    const m = await c.next(10000);
    let v = null;
    try { v = JSON.parse(m.text); } catch { /* base64 */ }
    if (v && v.id === after && v.result === 'PONG') return got;
    got.push(m.text);
  }
}

const err = (code, message, status, id, extra = {}) =>
  ({ jsonrpc: '2.0', error: { code, message, data: { status, ...extra } }, id });

function userAdd(store, name, password, roles = []) {
  const r = spawnSync(WSRD, ['user', 'add', name, ...roles.flatMap((x) => ['--role', x]), '--store', store],
    { input: `${password}\n`, encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 0, r.stderr);
}

// ---------------------------------------------------------------------------
describe('JSON-RPC 2.0 on a plain connection', () => {
  let srv;
  let raw;
  const dir = mkdtempSync(join(tmpdir(), 'wsrd-rpc-'));
  const store = join(dir, 'wsrouter.db');

  before(async () => {
    userAdd(store, 'ann', 'ann-password-1', ['admin']);
    userAdd(store, 'ben', 'ben-password-2');
    // A subscription limit of one: the second subscribe is refused 429.
    srv = await startServer(['--store', store, '--modules', 'all', '--set', 'max_subscriptions=1',
      '--set', 'request_timeout_ms=120000']);
    raw = await connect(srv.url);
  });

  after(async () => {
    await raw?.close().catch(() => {});
    const { code } = await srv.stop();
    rmSync(dir, { recursive: true, force: true });
    assert.equal(code, 0, srv.stderr());
  });

  test('rpc-websockets calls by name and by position, and gets error objects', async () => {
    const c = await rpcWs(srv.url);
    try {
      assert.equal(await c.call('add', { x: 1, y: 2 }), 3);
      assert.equal(await c.call('add', [40, 2]), 42);
      assert.equal(await c.call('ping'), 'PONG');
      assert.deepEqual(await c.call('echo', { data: { a: [1, 'b'] } }), { a: [1, 'b'] });
      // A path parameter is a declared parameter too: filled by position.
      await c.call('set', ['rpcws', 5]);
      assert.deepEqual(await c.call('get', ['rpcws']), await c.call('get', { key: 'rpcws' }));
      await assert.rejects(c.call('nope'), (e) => {
        assert.deepEqual(e, err(-32601, 'no command named nope', 404).error);
        return true;
      });
      await assert.rejects(c.call('add', [1, 2, 3]), (e) => {
        assert.equal(e.code, -32602);
        assert.equal(e.data.status, 422);
        assert.deepEqual(Object.keys(e.data.errors), ['params']);
        return true;
      });
    } finally {
      c.close();
    }
  });

  test('rpc-websockets notifications get no reply and still run', async () => {
    const c = await rpcWs(srv.url);
    const seen = [];
    c.socket.on('message', (d) => seen.push(d.toString()));
    try {
      await c.call('set', { key: 'rpcnote', value: 0 });
      await c.notify('increment', { key: 'rpcnote' });
      await c.notify('increment', ['rpcnote']);
      await c.notify('nope', {}); // not even errors
      await c.notify('add', { x: 'one' });
      // The increments run on workers, unordered with the calls after them
      // (only a barrier orders a connection's requests): read until both
      // have run, bounded in count and time.
      let after;
      let reads = 0;
      const deadline = Date.now() + 10000;
      do {
        if (reads > 0) await new Promise((r) => setTimeout(r, 20));
        after = await c.call('get', { key: 'rpcnote' });
        reads++;
      } while (!JSON.stringify(after).includes('2') && reads < 200 && Date.now() < deadline);
      assert.equal(JSON.stringify(after).includes('2'), true, JSON.stringify(after));
      // Only the answers of the calls came back: the set and each read.
      assert.equal(seen.length, 1 + reads, seen.join('\n'));
    } finally {
      c.close();
    }
  });

  test('json-rpc-2.0: calls, errors with data, and a batch', async () => {
    const { client, close } = await jsonRpc2(srv.url);
    try {
      assert.equal(await client.request('add', { x: 2, y: 3 }), 5);
      assert.equal(await client.request('add', [2.5, 3]), 5.5);
      await assert.rejects(client.request('add', { x: 'one', y: 1 }), (e) => {
        assert.ok(e instanceof JSONRPCErrorException);
        assert.equal(e.code, -32602);
        assert.equal(e.message, 'invalid parameter x: must be a number');
        assert.deepEqual(e.data, { status: 422, errors: { x: 'must be a number' } });
        return true;
      });
      const replies = await client.requestAdvanced([
        { jsonrpc: '2.0', method: 'sleep', params: { ms: 300 }, id: 'slow' },
        { jsonrpc: '2.0', method: 'add', params: [1, 1], id: 'fast' },
        { jsonrpc: '2.0', method: 'ping' },
        { jsonrpc: '2.0', method: 'nope', id: 'missing' },
      ]);
      const byId = Object.fromEntries(replies.map((r) => [r.id, r]));
      assert.deepEqual(byId.slow, { jsonrpc: '2.0', result: { slept_ms: 300 }, id: 'slow' });
      assert.deepEqual(byId.fast, { jsonrpc: '2.0', result: 2, id: 'fast' });
      assert.deepEqual(byId.missing, err(-32601, 'no command named nope', 404, 'missing'));
      assert.equal(replies.length, 3);
    } finally {
      close();
    }
  });

  test('a batch is one array, answers in the order they complete, notifications left out', async () => {
    const got = await exchange(raw, JSON.stringify([
      { jsonrpc: '2.0', method: 'sleep', params: [200], id: 1 },
      { jsonrpc: '2.0', method: 'later', params: { ms: 50 }, id: 2 },
      { jsonrpc: '2.0', method: 'ping', id: 3 },
      { jsonrpc: '2.0', method: 'ping' },
      { jsonrpc: '2.0', method: 'nope' },
      { jsonrpc: '2.0', method: 'fail', id: 4 },
      { cmd: 'ping', id: 5 },
      7,
    ]));
    // Nothing before the fence: the batch waits for its slowest answer.
    assert.deepEqual(got, []);
    const m = await raw.next(10000);
    assert.equal(m.text,
      '[{"jsonrpc":"2.0","result":"PONG","id":3},'
      + '{"jsonrpc":"2.0","error":{"code":-32603,"message":"the handler failed; see the server log","data":{"status":500}},"id":4},'
      + '{"jsonrpc":"2.0","error":{"code":-32600,"message":"member jsonrpc is missing: a batch holds JSON-RPC 2.0 requests only","data":{"status":400}},"id":5},'
      + '{"jsonrpc":"2.0","error":{"code":-32600,"message":"a batch element must be a JSON-RPC request object, not a number","data":{"status":400}},"id":null},'
      + '{"jsonrpc":"2.0","result":{"waited_ms":50},"id":2},'
      + '{"jsonrpc":"2.0","result":{"slept_ms":200},"id":1}]');
  });

  test('the empty batch is one error object; a batch of notifications gets nothing', async () => {
    assert.deepEqual(await exchange(raw, '[]'),
      ['{"jsonrpc":"2.0","error":{"code":-32600,"message":"a batch must hold at least one request","data":{"status":400}},"id":null}']);
    assert.deepEqual(await exchange(raw, ' [ {"jsonrpc":"2.0","method":"ping"}, {"jsonrpc":"2.0","method":"sleep","params":[50]} ] '), []);
    // The notification on a worker answers after the fence: still nothing.
    await sleep(150);
    assert.deepEqual(await exchange(raw, '{"jsonrpc":"2.0","method":"sleep","params":{"ms":1}}'), []);
    assert.equal(raw.queue.length, 0);
  });

  test('section 2: text that does not begin with a base64 character is JSON', async () => {
    assert.deepEqual((await exchange(raw, '[1,2]')).map((t) => JSON.parse(t)), [[
      err(-32600, 'a batch element must be a JSON-RPC request object, not a number', 400, null),
      err(-32600, 'a batch element must be a JSON-RPC request object, not a number', 400, null),
    ]]);
    assert.deepEqual(await exchange(raw, '"x"'),
      ['{"status":400,"detail":"message must be a JSON object, not a string","event_name":null}']);
    assert.deepEqual(await exchange(raw, '-1'),
      ['{"status":400,"detail":"message must be a JSON object, not a number","event_name":null}']);
    // A v1 request is still v1, and base64 still base64.
    assert.deepEqual(await exchange(raw, '{"cmd":"add","args":[1,2],"id":1}'),
      ['{"status":400,"detail":"member args must be an object","id":1,"event_name":null}']);
    const b64 = Buffer.from('{"jsonrpc":"2.0","method":"add","params":[1,2],"id":"b"}').toString('base64');
    const [m] = await exchange(raw, b64);
    assert.equal(Buffer.from(m, 'base64').toString(), '{"jsonrpc":"2.0","result":3,"id":"b"}');
  });

  test('every error code the server can produce', async () => {
    const one = async (text) => JSON.parse((await exchange(raw, text))[0]);
    // -32700: not JSON, told JSON-RPC by its "[" or its "jsonrpc" member.
    assert.deepEqual(await one('[{"jsonrpc":"2.0",'), err(-32700, 'message is not valid JSON: it ends too early', 400, null));
    assert.deepEqual(await one('{"jsonrpc":"2.0","method":"ping","id":1'),
      err(-32700, 'message is not valid JSON: it ends too early', 400, null));
    // -32600: the request object is invalid (answered, even without an id).
    assert.deepEqual(await one('{"jsonrpc":"2.0","method":1,"params":"bar"}'),
      err(-32600, 'member method must be a string', 400, null));
    assert.deepEqual(await one('{"jsonrpc":"1.0","method":"ping","id":"v"}'),
      err(-32600, 'member jsonrpc must be "2.0"', 400, 'v'));
    assert.deepEqual(await one('{"jsonrpc":"2.0","method":"ping","params":"x","id":2}'),
      err(-32600, 'member params must be an object or an array', 400, 2));
    // -32601, -32602 (with data.errors), -32603.
    assert.deepEqual(await one('{"jsonrpc":"2.0","method":"rpc.on","params":["x"],"id":3}'),
      err(-32601, 'no command named rpc.on', 404, 3));
    assert.deepEqual(await one('{"jsonrpc":"2.0","method":"add","params":{"y":1},"id":4}'),
      err(-32602, 'invalid parameter x: is required', 422, 4, { errors: { x: 'is required' } }));
    assert.deepEqual(await one('{"jsonrpc":"2.0","method":"fail","id":5}'),
      err(-32603, 'the handler failed; see the server log', 500, 5));
    // -32001 and -32003: a guarded route, then logged in without the role.
    assert.deepEqual(await one('{"jsonrpc":"2.0","method":"profile","id":6}'),
      err(-32001, 'route profile requires authentication: log in or send a token', 401, 6));
    const c = await connect(srv.url);
    try {
      c.send(JSON.stringify({ jsonrpc: '2.0', method: 'login', params: { username: 'ben', password: 'ben-password-2' }, id: 'in' }));
      const login = await c.nextJson(60000);
      assert.equal(login.result.user, 'ben');
      assert.deepEqual(JSON.parse((await exchange(c, '{"jsonrpc":"2.0","method":"admin","id":7}'))[0]),
        err(-32003, 'route admin requires the role admin', 403, 7));
      assert.equal(JSON.parse((await exchange(c, '{"jsonrpc":"2.0","method":"profile","id":8}'))[0]).id, 8);
      // -32029: past max_subscriptions.
      const first = JSON.parse((await exchange(c, '{"jsonrpc":"2.0","method":"subscribe","params":["a"],"id":9}'))[0]);
      assert.deepEqual(first, { jsonrpc: '2.0', result: { subscribed: 'a', offset: 0, epoch: first.result.epoch }, id: 9 });
      const limited = JSON.parse((await exchange(c, '{"jsonrpc":"2.0","method":"subscribe","params":["b"],"id":10}'))[0]);
      assert.equal(limited.error.code, -32029);
      assert.equal(limited.error.data.status, 429);
    } finally {
      await c.close();
    }
    // -32099 (499) needs cancellation (PROTOCOL.md section 5.1), which the
    // server does not implement yet: no request can be answered 499.
  });

  test('-32053: the worker queue is full, or the server shuts down', async () => {
    // One worker with a queue of one: of three blocking calls sent at once,
    // the first runs, and the second or the third (depending on when the
    // worker takes the first off the queue) is refused.
    const s = await startServer(['--modules', 'all', '--set', 'threads=1', '--set', 'queue_size=1']);
    try {
      const c = await connect(s.url);
      c.send(JSON.stringify([300, 300, 300].map((ms, i) =>
        ({ jsonrpc: '2.0', method: 'sleep', params: [ms], id: `s${i}` }))));
      const batch = JSON.parse((await c.next(10000)).text);
      assert.deepEqual(batch.find((r) => r.id === 's0'), { jsonrpc: '2.0', result: { slept_ms: 300 }, id: 's0' });
      const refused = batch.find((r) => r.error);
      assert.equal(refused.error.code, -32053);
      assert.equal(refused.error.data.status, 503);
      assert.match(refused.error.message, /^the server is overloaded: the worker queue is full/);
      // While it drains, requests are answered 503 too.
      c.send('{"jsonrpc":"2.0","method":"sleep","params":[300],"id":"d0"}');
      await sleep(50);
      s.proc.kill('SIGTERM');
      await sleep(100);
      c.send('[{"jsonrpc":"2.0","method":"ping","id":"d1"}]');
      const answers = [JSON.parse((await c.next(10000)).text), JSON.parse((await c.next(10000)).text)];
      assert.deepEqual(answers.find(Array.isArray),
        [err(-32053, 'the server is shutting down', 503, 'd1')]);
      assert.deepEqual(answers.find((a) => !Array.isArray(a)), { jsonrpc: '2.0', result: { slept_ms: 300 }, id: 'd0' });
    } finally {
      await s.stop();
    }
  });

  test('-32008: a handler that does not answer in time', async () => {
    const s = await startServer(['--modules', 'all', '--set', 'request_timeout_ms=100']);
    try {
      const c = await connect(s.url);
      c.send('{"jsonrpc":"2.0","method":"sleep","params":[400],"id":"t"}');
      const { _raw, ...r } = await c.nextJson();
      assert.deepEqual(r, err(-32008, 'the handler did not answer in time', 408, 't'));
      await c.close();
    } finally {
      await s.stop();
    }
  });
});

// ---------------------------------------------------------------------------
describe('a connection that asked for the jsonrpc2.0 subprotocol', () => {
  let srv;

  before(async () => { srv = await startServer(['--modules', 'all']); });
  after(async () => {
    const { code } = await srv.stop();
    assert.equal(code, 0, srv.stderr());
  });

  test('is given the subprotocol; wsrouter.v1 and none still work', async () => {
    const a = await connect(srv.url, { protocols: ['jsonrpc2.0'] });
    const b = await connect(srv.url, { protocols: ['wsrouter.v1'] });
    assert.equal(a.ws.protocol, 'jsonrpc2.0');
    assert.equal(b.ws.protocol, 'wsrouter.v1');
    assert.deepEqual(await exchange(a, '{"cmd":"add","args":{"x":1,"y":1},"id":1}'),
      ['{"status":200,"data":2,"id":1,"event_name":null}']);
    // What tells no envelope is answered in JSON-RPC here, in v1 there.
    assert.deepEqual(await exchange(a, '{"x'), ['{"jsonrpc":"2.0","error":{"code":-32700,"message":"message is not valid JSON: it ends too early","data":{"status":400}},"id":null}']);
    assert.deepEqual(await exchange(a, '@'), ['{"jsonrpc":"2.0","error":{"code":-32700,"message":"message is not valid JSON: a value was expected, not \'@\' (line 1, column 1)","data":{"status":400}},"id":null}']);
    // `null` begins with a base64 character: base64, whose bytes are not
    // UTF-8; answered in base64, in JSON-RPC.
    assert.deepEqual((await exchange(a, 'null')).map((t) => Buffer.from(t, 'base64').toString()),
      ['{"jsonrpc":"2.0","error":{"code":-32700,"message":"message is not valid UTF-8","data":{"status":400}},"id":null}']);
    assert.deepEqual(await exchange(b, '{"x'), ['{"status":400,"detail":"message is not valid JSON: it ends too early","event_name":null}']);
    await a.close();
    await b.close();
  });

  test("the README's example, byte for byte", async () => {
    const w = await connect(`${srv.url}/`, { protocols: 'jsonrpc2.0' });
    w.send(JSON.stringify([{ jsonrpc: '2.0', method: 'add', params: [1, 2], id: 1 },
      { jsonrpc: '2.0', method: 'add', params: { x: 1 }, id: 2 }]));
    assert.equal((await w.next()).text,
      '[{"jsonrpc":"2.0","result":3,"id":1},{"jsonrpc":"2.0","error":{"code":-32602,'
      + '"message":"invalid parameter y: is required","data":{"status":422,"errors":{"y":"is required"}}},"id":2}]');
    await w.close();
  });

  test('publications arrive as JSON-RPC notifications (json-rpc-2.0 receives them)', async () => {
    const sub = await jsonRpc2(srv.url, ['jsonrpc2.0']);
    const got = [];
    sub.peer.addMethod('publish', (params) => { got.push(params); });
    sub.peer.addMethod('diag', (params) => { got.push({ push: params }); });
    const pub = await rpcWs(srv.url);
    try {
      const { epoch, ...start } = await sub.client.request('subscribe', { topic: 'news' });
      assert.deepEqual(start, { subscribed: 'news', offset: 0 });
      assert.deepEqual(await pub.call('publish', { topic: 'news', data: { headline: 'hi' } }), { delivered: 1 });
      assert.deepEqual(await pub.call('publish', { topic: 'news', data: [1, 2] }), { delivered: 1 });
      // A push to the caller: its data under params.
      assert.deepEqual(await sub.client.request('push', { count: 1 }), { pushed: 1 });
      await withTimeout((async () => { while (got.length < 3) await sleep(10); })(), 5000, 'the notifications');
      assert.deepEqual(got, [
        { topic: 'news', offset: 1, epoch, data: { headline: 'hi' } },
        { topic: 'news', offset: 2, epoch, data: [1, 2] },
        { push: { data: { seq: 0, data: { count: 1 } } } },
      ]);
    } finally {
      sub.close();
      pub.close();
    }
  });

  test('rpc-websockets, asking for the subprotocol, gets them as events; exact bytes', async () => {
    const c = await rpcWs(srv.url, (address, options) => new WebSocket(address, ['jsonrpc2.0'], options));
    const raw = [];
    c.socket.on('message', (d) => raw.push(d.toString()));
    const events = [];
    c.on('publish', (params) => events.push(params));
    try {
      const { epoch, ...start } = await c.call('subscribe', ['chat']);
      assert.deepEqual(start, { subscribed: 'chat', offset: 0 });
      assert.deepEqual(await c.call('publish', { topic: 'chat', data: 'x"y' }), { delivered: 1 });
      await withTimeout((async () => { while (events.length < 1) await sleep(10); })(), 5000, 'the event');
      assert.deepEqual(events, [{ topic: 'chat', offset: 1, epoch, data: 'x"y' }]);
      assert.ok(raw.includes(`{"jsonrpc":"2.0","method":"publish","params":{"topic":"chat","offset":1,"epoch":"${epoch}","data":"x\\"y"}}`), raw.join('\n'));
    } finally {
      c.close();
    }
  });

  test('a connection without it gets v1 publications, whatever it sent', async () => {
    const c = await connect(srv.url);
    const [reply] = await exchange(c, '{"jsonrpc":"2.0","method":"subscribe","params":{"topic":"v1"},"id":1}');
    const { epoch } = JSON.parse(reply).result;
    assert.equal(reply, `{"jsonrpc":"2.0","result":{"subscribed":"v1","offset":0,"epoch":"${epoch}"},"id":1}`);
    assert.deepEqual(await exchange(c, '{"jsonrpc":"2.0","method":"publish","params":{"topic":"v1","data":3}}'),
      [`{"event_name":"publish","topic":"v1","offset":1,"epoch":"${epoch}","data":3}`]);
    await c.close();
  });
});
