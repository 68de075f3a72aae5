// SPDX-License-Identifier: MIT
// The JavaScript client library (www/wsrouter.js) in Node against the real
// wsrouterd, with the `ws` package injected as the WebSocket class (Node 20 has
// no global WebSocket). Also type-checks www/wsrouter.d.ts with tsc.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import WebSocket from 'ws';
import { startServer, connect as rawConnect, withTimeout, waitFor } from './harness.mjs';
import {
  WsRouter, WsRouterError, SUBPROTOCOL, DEFAULTS, encodeBase64, decodeBase64,
} from '../../www/wsrouter.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const TESTS = join(HERE, '..');
const WWW = join(HERE, '..', '..', 'www');

let srv;
let client;
const opened = [];

/** Connects the library to `srv` (or `url`), remembering the client for cleanup. */
async function open(options = {}, url = `${srv.url}/`) {
  const c = await WsRouter.connect(url, { WebSocket, ...options });
  opened.push(c);
  return c;
}

/** A client that is not awaited (it may be offline), remembered for cleanup. */
function make(url, options = {}) {
  const c = new WsRouter(url, { WebSocket, ...options });
  opened.push(c);
  return c;
}

/** The next `type` event of a client, bounded. */
function nextEvent(c, type, ms = 5000) {
  return withTimeout(new Promise((resolve) => {
    c.addEventListener(type, (ev) => resolve(ev.detail), { once: true });
  }), ms, `a ${type} event`);
}

/** Awaits a rejection and returns the WsRouterError. */
async function rejection(promise) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof WsRouterError, `not a WsRouterError: ${e && e.stack}`);
    return e;
  }
  assert.fail('the promise resolved; a rejection was expected');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  srv = await startServer(['--modules', 'all', '--set', 'request_timeout_ms=1000']);
  client = await open();
});

after(async () => {
  await Promise.all(opened.map((c) => c.close()));
  const { code } = await srv.stop();
  assert.equal(code, 0, srv.stderr());
});

describe('connecting', () => {
  test('connect() resolves open, with the wsrouter.v1 subprotocol by default', () => {
    assert.equal(client.state, 'open');
    assert.equal(client.protocol, SUBPROTOCOL);
    assert.equal(client.protocol, 'wsrouter.v1');
    assert.equal(client.encoding, 'json');
    assert.equal(client.url, `${srv.url}/`);
  });

  test('protocols: null asks for no subprotocol; the server serves it as well', async () => {
    const c = await open({ protocols: null });
    assert.equal(c.protocol, '');
    assert.equal(await c.call('ping'), 'PONG');
  });

  test('http:// URLs are taken as ws://', async () => {
    const c = await open({}, `http://127.0.0.1:${srv.port}/`);
    assert.equal(c.url, `ws://127.0.0.1:${srv.port}/`);
    assert.equal(await c.get('/_/ping'), 'PONG');
  });

  test('connect() rejects with ECONNECT when nothing listens', async () => {
    const dead = await startServer([]);
    const port = dead.port;
    await dead.stop();
    const t0 = Date.now();
    const e = await rejection(WsRouter.connect(`ws://127.0.0.1:${port}/`, { WebSocket }));
    assert.equal(e.code, 'ECONNECT');
    assert.equal(e.status, 0);
    assert.equal(e.local, true);
    assert.match(e.detail, new RegExp(`could not connect to ws://127.0.0.1:${port}/`));
    assert.ok(Date.now() - t0 < 5000);
  });

  test('bad options and URLs are refused at once', () => {
    assert.throws(() => new WsRouter('ws://127.0.0.1:1/', { WebSocket, encoding: 'xml' }), /encoding must be 'json' or 'base64'/);
    assert.throws(() => new WsRouter('127.0.0.1:1', { WebSocket }), /not a WebSocket URL/);
    assert.throws(() => new WsRouter('ws://127.0.0.1:1/', { WebSocket: undefined }), /pass options.WebSocket/);
  });
});

describe('requests', () => {
  test('get(), post(), put(), patch(), delete() send their method and resolve to data', async () => {
    assert.equal(await client.get('/hello'), 'Hello, world!');
    assert.equal(await client.get('/math/add', { x: 1, y: 2.5 }), 3.5);
    assert.equal(await client.get('/math/add?x=1&y=2', { y: 40 }), 41);
    assert.equal(await client.post('/counters/ch1', undefined, { value: 5 }), 5);
    assert.equal(await client.put('/counters/ch1', undefined, { value: 6 }), 6);
    assert.equal(await client.get('/counters/ch1'), 6);
    assert.deepEqual(await client.post('/echo', { a: [1, 'ü'] }), { a: [1, 'ü'] });
    assert.deepEqual(await client.put('/echo', [null, true]), [null, true]);
    // No example route takes PATCH or DELETE: the 405s name the method that was sent.
    let e = await rejection(client.patch('/echo', { a: 1 }));
    assert.equal(e.status, 405);
    assert.equal(e.detail, 'method PATCH is not allowed on /echo');
    e = await rejection(client.delete('/counters/ch1'));
    assert.equal(e.detail, 'method DELETE is not allowed on /counters/{key}');
  });

  test('call() calls by name; request() sends any message; fetch() gives the whole reply', async () => {
    assert.equal(await client.call('add', { x: 2, y: 3 }), 5);
    assert.equal(await client.call('ping'), 'PONG');
    assert.deepEqual(await client.call('echo', undefined, { data: { d: 1 } }), { d: 1 });
    assert.equal(await client.request({ method: ' get ', url: '/hello/bob/42' }), 'Hello, bob with ID=42');
    assert.equal(await client.request({ cmd: 'add', x: 1, y: 2 }), 3, 'other members are sent as given');
    let r = await client.fetch({ cmd: 'add', args: { x: 1, y: 1 }, event_name: 'e1' });
    assert.equal(r.status, 200);
    assert.equal(r.data, 2);
    assert.equal(r.event_name, 'e1');
    assert.equal(typeof r.id, 'number');
    r = await client.fetch({ method: 'GET', url: '/nope' });
    assert.deepEqual({ status: r.status, detail: r.detail }, { status: 404, detail: 'no route for /nope' });
    r = await client.fetch({ cmd: 'ping' }, { event_name: { x: [1] } });
    assert.deepEqual(r.event_name, { x: [1] });
  });

  test('ids are unique and automatic; a given id is echoed; one in use is refused', async () => {
    const ids = new Set();
    for (let i = 0; i < 20; i++) ids.add((await client.fetch({ cmd: 'ping' })).id);
    assert.equal(ids.size, 20);
    const r = await client.fetch({ cmd: 'ping', id: 'mine' });
    assert.equal(r.id, 'mine');
    const slow = client.request({ cmd: 'later', args: { ms: 100 }, id: 'busy' });
    const e = await rejection(client.request({ cmd: 'ping', id: 'busy' }));
    assert.equal(e.code, 'EBADREQUEST');
    assert.match(e.detail, /id "busy" is already in use/);
    assert.deepEqual(await slow, { waited_ms: 100 });
  });

  test('the token option is sent as the token member of each request', async () => {
    const sent = [];
    class SpyWS extends WebSocket {
      send(data, ...rest) { sent.push(String(data)); return super.send(data, ...rest); }
    }
    // The server verifies tokens (it has a store), so these made-up ones are
    // refused with 401: proof that each was sent and read.
    const c = await open({ WebSocket: SpyWS, token: 'tok-1' });
    let e = await rejection(c.call('ping'));
    assert.equal(e.status, 401);
    assert.match(e.detail, /^the request's token is not valid: /);
    assert.equal(JSON.parse(sent.at(-1)).token, 'tok-1');
    e = await rejection(c.call('ping', undefined, { token: 'tok-2' }));
    assert.equal(e.status, 401);
    assert.equal(JSON.parse(sent.at(-1)).token, 'tok-2');
    c.token = 'tok-3';
    e = await rejection(c.get('/hello'));
    assert.equal(e.status, 401);
    assert.equal(JSON.parse(sent.at(-1)).token, 'tok-3');
  });

  test('a request that cannot be encoded is rejected locally', async () => {
    const cyclic = {};
    cyclic.self = cyclic;
    let e = await rejection(client.post('/echo', cyclic));
    assert.equal(e.code, 'EENCODE');
    e = await rejection(client.post('/echo', 10n));
    assert.equal(e.code, 'EENCODE');
    e = await rejection(client.request(null));
    assert.equal(e.code, 'EBADREQUEST');
  });

  test('an AbortSignal rejects its request', async () => {
    const ac = new AbortController();
    const p = client.call('later', { ms: 300 }, { signal: ac.signal });
    ac.abort();
    const e = await rejection(p);
    assert.equal(e.code, 'EABORTED');
    const e2 = await rejection(client.call('ping', undefined, { signal: ac.signal }));
    assert.equal(e2.code, 'EABORTED');
  });
});

describe('errors', () => {
  test('404 for an unknown URL or command', async () => {
    let e = await rejection(client.get('/no/such/thing'));
    assert.equal(e.status, 404);
    assert.equal(e.detail, 'no route for /no/such/thing');
    assert.equal(e.message, e.detail);
    assert.equal(e.name, 'WsRouterError');
    assert.equal(e.local, false);
    assert.equal(e.reply.status, 404);
    e = await rejection(client.call('nosuch'));
    assert.equal(e.status, 404);
    assert.equal(e.detail, 'no command named nosuch');
  });

  test('405 carries allow', async () => {
    const e = await rejection(client.delete('/counters/a'));
    assert.equal(e.status, 405);
    assert.equal(e.detail, 'method DELETE is not allowed on /counters/{key}');
    assert.deepEqual(e.allow, ['GET', 'POST', 'PUT']);
  });

  test('422 carries errors', async () => {
    const e = await rejection(client.call('add', { x: 'one' }));
    assert.equal(e.status, 422);
    assert.deepEqual(e.errors, { x: 'must be a number', y: 'is required' });
    assert.equal(e.detail, 'invalid parameters: x, y');
  });

  test('500 when the handler fails', async () => {
    const e = await rejection(client.call('fail'));
    assert.equal(e.status, 500);
    assert.equal(e.detail, 'the handler failed; see the server log');
  });
});

describe('timeouts', () => {
  test('a request with no reply in time rejects 408 locally; the late reply is dropped', async () => {
    const t0 = Date.now();
    const e = await rejection(client.call('later', { ms: 600 }, { timeout: 100 }));
    const took = Date.now() - t0;
    assert.equal(e.status, 408);
    assert.equal(e.code, 'ETIMEDOUT');
    assert.equal(e.local, true);
    assert.equal(e.detail, 'request timed out on the client after 100 ms with no reply');
    assert.ok(took >= 90 && took < 2000, `took ${took} ms`);
    assert.equal(client.inFlight, 0);
    await sleep(600); // the late reply arrives and is ignored
    assert.equal(await client.call('ping'), 'PONG');
  });

  test('the client-wide timeout applies when the request gives none', async () => {
    const c = await open({ timeout: 80 });
    const e = await rejection(c.get('/diag/later', { ms: 400 }));
    assert.equal(e.status, 408);
    assert.match(e.detail, /timed out on the client after 80 ms/);
    assert.equal(await c.call('later', { ms: 10 }, { timeout: 0 }).then((d) => d.waited_ms), 10);
  });

  test("the server's own 408 is a reply, not a local error", async () => {
    const e = await rejection(client.call('later', { ms: 1500 }, { timeout: 5000 }));
    assert.equal(e.status, 408);
    assert.equal(e.local, false);
    assert.doesNotMatch(e.detail, /on the client/);
  });
});

test('many requests in flight are matched to their replies, whatever their order', async () => {
  const n = 300;
  const calls = [];
  for (let i = 0; i < n; i++) {
    if (i % 3 === 0) calls.push(client.call('later', { ms: (i * 7) % 60 }).then((d) => d.waited_ms));
    else if (i % 3 === 1) calls.push(client.call('add', { x: i, y: 0.5 }));
    else calls.push(client.post('/echo', { i, s: 'é'.repeat(i % 5) }));
  }
  assert.ok(client.inFlight > 1, `in flight: ${client.inFlight}`);
  const got = await withTimeout(Promise.all(calls), 10000, 'every reply');
  for (let i = 0; i < n; i++) {
    if (i % 3 === 0) assert.equal(got[i], (i * 7) % 60, `request ${i}`);
    else if (i % 3 === 1) assert.equal(got[i], i + 0.5, `request ${i}`);
    else assert.deepEqual(got[i], { i, s: 'é'.repeat(i % 5) }, `request ${i}`);
  }
  assert.equal(client.inFlight, 0);
});

describe('base64 encoding', () => {
  test('encodeBase64/decodeBase64 agree with Buffer on any UTF-8', () => {
    const samples = ['', 'a', 'ab', 'abc', 'Jürgen ✓ 😀 \u2028 \0 終', 'x'.repeat(100000) + '€'];
    for (const s of samples) {
      const b = encodeBase64(s);
      assert.equal(b, Buffer.from(s).toString('base64'));
      assert.equal(decodeBase64(b), s);
      assert.equal(decodeBase64(b.replace(/=+$/, '')), s, 'padding is optional');
    }
  });

  test('requests go out as base64 text frames; replies and publications are read back', async () => {
    const sent = [];
    const received = [];
    class SpyWS extends WebSocket {
      constructor(...a) {
        super(...a);
        this.on('message', (d, isBinary) => received.push({ text: d.toString(), isBinary }));
      }
      send(data, ...rest) { sent.push(data); return super.send(data, ...rest); }
    }
    const c = await open({ WebSocket: SpyWS, encoding: 'base64' });
    assert.equal(c.encoding, 'base64');
    assert.equal(await c.call('add', { x: 1, y: 2 }), 3);
    assert.equal(await c.get('/hello/Jürgen ✓ 😀/7'), 'Hello, Jürgen ✓ 😀 with ID=7');
    const data = { s: 'ü€😀\u2028', n: [1, 2.5, null] };
    assert.deepEqual(await c.post('/echo', data), data);
    const e = await rejection(c.call('add', { x: 'one' }));
    assert.equal(e.status, 422);
    const pubs = [];
    await c.subscribe('b64topic', (d) => pubs.push(d));
    await client.publish('b64topic', { t: 'ö' });
    await waitFor(() => pubs.length === 1, 3000, 'the publication');
    assert.deepEqual(pubs, [{ t: 'ö' }]);
    assert.ok(sent.length >= 5);
    for (const s of sent) {
      assert.equal(typeof s, 'string', 'text frames');
      assert.match(s, /^[A-Za-z0-9+/]+=*$/);
      assert.equal(typeof JSON.parse(decodeBase64(s)).id, 'number');
    }
    for (const m of received) {
      assert.equal(m.isBinary, false);
      assert.match(m.text, /^[A-Za-z0-9+/]+=*$/, 'the server answered in base64');
    }
  });
});

describe('pushes and subscriptions', () => {
  test('on() receives pushes by event_name, in order; "*" receives all; off() stops', async () => {
    const ticks = [];
    const all = [];
    const onTick = (data, msg) => { ticks.push(data.seq); assert.equal(msg.event_name, 'tick'); };
    client.on('tick', onTick);
    const removeAll = client.on('*', (data, msg) => all.push(msg.event_name));
    const r = await client.post('/diag/push', 'd', { count: 20, event: 'tick' });
    assert.deepEqual(r, { pushed: 20 });
    // The reply may overtake the last pushes (PROTOCOL.md promises no order between them).
    await waitFor(() => ticks.length === 20 && all.length === 20, 3000, 'twenty pushes');
    assert.deepEqual(ticks, [...Array(20).keys()], 'pushes keep their order');
    client.off('tick', onTick);
    removeAll();
    await client.post('/diag/push', 'd', { count: 3, event: 'tick' });
    await client.call('ping');
    assert.equal(ticks.length, 20);
    assert.equal(all.length, 20);
  });

  test('a listener that throws is reported as an error event and does not stop others', async () => {
    const seen = [];
    const errors = [];
    const origError = console.error;
    console.error = () => {};
    const onError = (ev) => errors.push(ev.detail.error.message);
    client.addEventListener('error', onError);
    try {
      client.on('boom', () => { throw new Error('listener failed'); });
      client.on('boom', (d) => seen.push(d.seq));
      await client.post('/diag/push', null, { count: 2, event: 'boom' });
      await waitFor(() => seen.length === 2, 3000, 'two pushes');
    } finally {
      console.error = origError;
      client.off('boom');
      client.removeEventListener('error', onError);
    }
    assert.deepEqual(seen, [0, 1]);
    assert.deepEqual(errors, ['listener failed', 'listener failed']);
  });

  test('subscribe() delivers publications to every handler; unsubscribe() stops them', async () => {
    const sub = await open();
    const a = [];
    const b = [];
    const fa = (d, msg) => { a.push(d); assert.equal(msg.topic, 'chat'); };
    const fb = (d) => b.push(d);
    const { epoch, ...start } = await sub.subscribe('chat', fa);
    assert.deepEqual(start, { subscribed: 'chat', offset: 0 });
    assert.deepEqual(await sub.subscribe('chat', fb), { subscribed: 'chat' });
    assert.deepEqual(sub.position('chat'), { offset: 0, epoch });
    assert.deepEqual(sub.topics, ['chat']);
    assert.deepEqual(await client.publish('chat', { text: 'hi' }), { delivered: 1 });
    await waitFor(() => a.length === 1 && b.length === 1, 3000, 'both handlers');
    assert.deepEqual(a, [{ text: 'hi' }]);
    assert.deepEqual(await sub.unsubscribe('chat', fa), { subscribed: 'chat' }, 'fb remains');
    await client.publish('chat', 2);
    await waitFor(() => b.length === 2, 3000, 'the second publication');
    assert.equal(a.length, 1);
    assert.deepEqual(await sub.unsubscribe('chat'), { unsubscribed: 'chat' });
    assert.deepEqual(sub.topics, []);
    assert.deepEqual(await client.publish('chat', 3), { delivered: 0 });
  });

  test('the counters topic reports every change', async () => {
    const sub = await open();
    const got = [];
    await sub.subscribe('counters', (d) => { if (d.key === 'cs1') got.push(d); });
    await client.call('increment', { key: 'cs1' });
    await client.call('set', { key: 'cs1', value: 10 });
    await client.call('decrement', { key: 'cs1' });
    await client.call('rem', { key: 'cs1' });
    await waitFor(() => got.length === 4, 3000, 'four publications');
    assert.deepEqual(got.map((d) => d.value), [1, 10, 9, null]);
  });

  test('a refused subscription rejects and is not kept', async () => {
    const sub = await open();
    const e = await rejection(sub.subscribe('', () => {}));
    assert.equal(e.status, 422);
    assert.equal(e.errors.topic, 'must be 1 to 200 bytes');
    assert.deepEqual(sub.topics, []);
  });
});

describe('reconnection', () => {
  test('after a server restart: reconnects, re-subscribes, then drains the offline queue', async () => {
    const a = await startServer(['--modules', 'all']);
    let b;
    try {
      const c = await open({ reconnectDelay: 20, reconnectMaxDelay: 200 }, `${a.url}/`);
      const states = [];
      c.addEventListener('statechange', (ev) => states.push(ev.detail.state));
      const seen = [];
      await c.subscribe('counters', (d) => { if (d.key === 'rk') seen.push(d.value); });
      await c.subscribe('news', () => {});

      // A request in flight when the server dies is rejected, not resent.
      const inFlight = rejection(c.call('later', { ms: 3000 }));
      await sleep(50);
      assert.equal(c.inFlight, 1);
      const reconnecting = nextEvent(c, 'reconnecting');
      await a.stop('SIGKILL');
      const lost = await inFlight;
      assert.equal(lost.code, 'ECLOSED');
      assert.equal(lost.status, 0);
      assert.match(lost.detail, /closed before the reply came \(close code 1006\)/);
      const rec = await reconnecting;
      assert.equal(rec.attempt, 1);
      assert.ok(rec.delay >= 10 && rec.delay <= 20, `first delay ${rec.delay}`);
      assert.equal(c.state, 'reconnecting');

      // Made while offline: queued, sent on reconnection.
      const p1 = c.call('increment', { key: 'rk' });
      const p2 = c.get('/hello');
      const p3 = c.post('/echo', { offline: true });
      assert.equal(c.queued, 3);
      await sleep(300); // a few failed attempts, backing off
      assert.equal(c.state, 'reconnecting');

      const reopened = nextEvent(c, 'open', 10000);
      b = await startServer(['--modules', 'all', '--port', String(a.port)]);
      assert.equal(b.port, a.port);
      assert.equal((await reopened).reconnected, true);
      assert.equal(await withTimeout(p1, 5000, 'the queued increment'), 1);
      assert.equal(await p2, 'Hello, world!');
      assert.deepEqual(await p3, { offline: true });
      assert.equal(c.queued, 0);
      assert.equal(c.state, 'open');
      assert.deepEqual(states.slice(0, 2), ['reconnecting', 'open']);

      // The re-subscription was in place before the queue was drained: our own
      // queued increment was published to us. Another client's changes are too.
      await waitFor(() => seen.length === 1, 3000, 'the publication of the queued increment');
      const other = await rawConnect(b.url);
      const r = await other.request({ cmd: 'increment', args: { key: 'rk' } });
      assert.equal(r.data, 2);
      await waitFor(() => seen.length === 2, 3000, "another client's publication");
      assert.deepEqual(seen, [1, 2]);
      const pub = await other.request({ cmd: 'publish', args: { topic: 'news' }, data: 1 });
      assert.deepEqual(pub.data, { delivered: 1 }, 'every topic was subscribed again');
      await other.close();
      await c.close();
      assert.equal(c.state, 'closed');
    } finally {
      await a.stop();
      if (b) assert.equal((await b.stop()).code, 0);
    }
  });

  test('a graceful server shutdown (1001) also leads to reconnecting', async () => {
    const a = await startServer(['--modules', 'all']);
    try {
      const c = await open({ reconnectDelay: 1000 }, `${a.url}/`);
      const closed = nextEvent(c, 'close');
      await a.stop('SIGTERM');
      const ev = await closed;
      assert.equal(ev.code, 1001);
      assert.equal(ev.willReconnect, true);
      assert.equal(c.state, 'reconnecting');
      await c.close();
      assert.equal(c.state, 'closed');
    } finally {
      await a.stop();
    }
  });

  test('the offline queue is bounded; overflow and queued timeouts reject clearly', async () => {
    const dead = await startServer([]);
    const url = `${dead.url}/`;
    await dead.stop();
    const c = make(url, { queueSize: 3, reconnectDelay: 50, reconnectMaxDelay: 100 });
    assert.equal(c.state, 'connecting');
    const queued = [c.call('ping'), c.call('ping', undefined, { timeout: 100 }), c.get('/hello')];
    queued.forEach((p) => p.catch(() => {}));
    assert.equal(c.queued, 3);
    const e = await rejection(c.call('ping'));
    assert.equal(e.code, 'EQUEUEFULL');
    assert.equal(e.status, 503);
    assert.equal(e.local, true);
    assert.equal(e.detail, 'the offline queue is full (3 requests waiting for the connection); this one was not sent');
    const t = await rejection(queued[1]);
    assert.equal(t.status, 408);
    assert.match(t.detail, /timed out on the client after 100 ms with no reply \(never sent: still waiting for the connection\)/);
    assert.equal(c.queued, 2, 'a timed-out request leaves the queue');
    const again = c.call('ping');
    again.catch(() => {});
    assert.equal(c.queued, 3, 'the room it left is taken again');
    await c.close();
    for (const p of [queued[0], queued[2], again]) assert.equal((await rejection(p)).code, 'ECLIENTCLOSED');
    assert.equal((await rejection(c.call('ping'))).code, 'ECLIENTCLOSED');
  });

  test('queueSize 0 rejects every request made offline; reconnect: false gives up', async () => {
    const dead = await startServer([]);
    const url = `${dead.url}/`;
    await dead.stop();
    const c = make(url, { queueSize: 0, reconnect: false });
    assert.equal((await rejection(c.call('ping'))).code, 'EQUEUEFULL');
    const e = await rejection(c.ready);
    assert.equal(e.code, 'ECLIENTCLOSED');
    assert.equal(c.state, 'closed');
  });

  test('requests made before the first open wait for it', async () => {
    const c = make(`${srv.url}/`);
    assert.equal(c.state, 'connecting');
    const p = c.call('add', { x: 1, y: 1 });
    assert.equal(c.queued, 1);
    assert.equal(await c.ready, c);
    assert.equal(await p, 2);
  });

  test('close() rejects requests in flight and stops reconnecting', async () => {
    const c = await open();
    const p = c.call('later', { ms: 500 });
    await sleep(20);
    const closing = c.close();
    const e = await rejection(p);
    assert.equal(e.code, 'ECLIENTCLOSED');
    await withTimeout(closing, 4000, 'close()');
    assert.equal(c.state, 'closed');
    await sleep(100);
    assert.equal(c.state, 'closed');
  });
});

describe('types', () => {
  test('every public method of WsRouter is declared in wsrouter.d.ts, and only those', () => {
    const dts = readFileSync(join(WWW, 'wsrouter.d.ts'), 'utf8');
    const body = dts.slice(dts.indexOf('export declare class WsRouter '));
    const declared = new Set([...body.matchAll(/^ {2}(?:static )?(\w+)(?:<[^>]*>)?\(/gm)].map((m) => m[1]));
    declared.delete('constructor');
    const proto = Object.getOwnPropertyNames(WsRouter.prototype).filter((n) => n !== 'constructor'
      && typeof Object.getOwnPropertyDescriptor(WsRouter.prototype, n).value === 'function');
    for (const n of [...proto, 'connect', 'addEventListener', 'removeEventListener']) assert.ok(declared.has(n), `${n} is not declared`);
    for (const n of declared) {
      assert.ok(proto.includes(n) || n in WsRouter || n.endsWith('EventListener'), `${n} is declared but missing`);
    }
    const accessors = Object.getOwnPropertyNames(WsRouter.prototype)
      .map((n) => [n, Object.getOwnPropertyDescriptor(WsRouter.prototype, n)])
      .filter(([, d]) => typeof d.get === 'function');
    // A getter alone is readonly; one with a setter (token) is writable.
    for (const [g, d] of accessors) {
      assert.match(body, new RegExp(d.set ? `^ {2}${g}:` : `readonly ${g}:`, 'm'), `accessor ${g}`);
    }
    for (const k of Object.keys(DEFAULTS)) assert.match(dts, new RegExp(`\\b${k}\\?:`), `option ${k}`);
  });

  test('wsrouter.d.ts type-checks a use of the API (tsc --strict), and wsrouter.js its JSDoc', async () => {
    const tsc = join(TESTS, 'node_modules', 'typescript', 'bin', 'tsc');
    assert.ok(existsSync(tsc), 'typescript is a devDependency: run npm ci in tests/');
    const common = ['--noEmit', '--target', 'es2022', '--module', 'esnext', '--moduleResolution', 'bundler',
      '--lib', 'es2022,dom'];
    const run = (args) => withTimeout(new Promise((resolve) => {
      const p = spawn(process.execPath, [tsc, ...common, ...args], { cwd: TESTS });
      let out = '';
      p.stdout.on('data', (d) => { out += d; });
      p.stderr.on('data', (d) => { out += d; });
      p.on('close', (code) => resolve({ code, out })); // close: all of the output read
    }), 60000, 'tsc');
    const [types, js] = await Promise.all([
      run(['--strict', join(HERE, 'client-types.ts')]),
      run(['--allowJs', '--checkJs', join(WWW, 'wsrouter.js')]),
    ]);
    assert.equal(types.code, 0, types.out);
    assert.equal(js.code, 0, js.out);
  });
});
