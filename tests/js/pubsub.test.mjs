// SPDX-License-Identifier: MIT
// Pushes and subscriptions (PROTOCOL.md section 5) against the real wsrouterd.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, connect } from './harness.mjs';

let srv;
before(async () => { srv = await startServer(['--modules', 'all', '--set', 'max_subscriptions=3']); });
after(async () => { assert.equal((await srv.stop()).code, 0); });

const sub = (c, topic, id) => c.request({ method: 'POST', url: '/_/subscribe', args: { topic }, id });

test('every subscriber receives a publication; the publisher gets {delivered}', async () => {
  const a = await connect(srv.url);
  const b = await connect(srv.url);
  const p = await connect(srv.url);
  const { epoch, ...start } = (await sub(a, 'chat')).data;
  assert.deepEqual(start, { subscribed: 'chat', offset: 0 });
  assert.equal((await sub(b, 'chat')).status, 200);
  const r = await p.request({ method: 'POST', url: '/_/publish', args: { topic: 'chat' }, data: { text: 'hi' } });
  assert.deepEqual(r.data, { delivered: 2 });
  for (const c of [a, b]) {
    const m = await c.next();
    assert.equal(m.text, `{"event_name":"publish","topic":"chat","offset":1,"epoch":"${epoch}","data":{"text":"hi"}}`);
  }
  await Promise.all([a.close(), b.close(), p.close()]);
});

test('a subscriber that speaks base64 gets the publication in base64', async () => {
  const a = await connect(srv.url);
  a.send(Buffer.from(Buffer.from('{"method":"POST","url":"/_/subscribe","args":{"topic":"b64"}}').toString('base64')), { binary: true });
  const ack = await a.next();
  assert.equal(ack.isBinary, true);
  const { epoch } = JSON.parse(Buffer.from(ack.text, 'base64').toString()).data;
  const p = await connect(srv.url);
  await p.request({ cmd: 'publish', args: { topic: 'b64' }, data: 1 });
  const m = await a.next();
  assert.equal(m.isBinary, true);
  assert.equal(Buffer.from(m.text, 'base64').toString(), `{"event_name":"publish","topic":"b64","offset":1,"epoch":"${epoch}","data":1}`);
  await Promise.all([a.close(), p.close()]);
});

test('unsubscribe stops publications; unsubscribing twice is a 404', async () => {
  const a = await connect(srv.url);
  await sub(a, 't1');
  let r = await a.request({ method: 'POST', url: '/_/unsubscribe', args: { topic: 't1' } });
  assert.deepEqual(r.data, { unsubscribed: 't1' });
  r = await a.request({ cmd: 'unsubscribe', args: { topic: 't1' } });
  assert.equal(r.status, 404);
  assert.equal(r.detail, 'not subscribed to t1');
  r = await a.request({ cmd: 'publish', args: { topic: 't1' }, data: 0 });
  assert.deepEqual(r.data, { delivered: 0 });
  await a.close();
});

test('a closed connection is forgotten by its topics', async () => {
  const a = await connect(srv.url);
  await sub(a, 'gone');
  await a.close();
  const p = await connect(srv.url);
  await new Promise((r) => setTimeout(r, 50));
  const r = await p.request({ cmd: 'publish', args: { topic: 'gone' }, data: 0 });
  assert.deepEqual(r.data, { delivered: 0 });
  await p.close();
});

test('subscriptions are bounded per connection (429) and topics are checked (422)', async () => {
  const a = await connect(srv.url);
  for (const t of ['x1', 'x2', 'x3']) assert.equal((await sub(a, t)).status, 200);
  assert.equal((await sub(a, 'x2')).status, 200, 'subscribing again is not an error');
  const r = await sub(a, 'x4');
  assert.equal(r.status, 429);
  assert.equal(r.detail, 'too many subscriptions on this connection (at most 3)');
  const e = await sub(a, '');
  assert.equal(e.status, 422);
  assert.equal(e.errors.topic, 'must be 1 to 200 bytes');
  assert.equal((await sub(a, 'y'.repeat(201))).status, 422);
  await a.close();
});

test('a handler pushes to its caller: pushes carry no status, keep order and precede the reply', async () => {
  const a = await connect(srv.url);
  a.send(JSON.stringify({ cmd: 'push', args: { count: 50, event: 'tick' }, data: 'd', id: 'p' }));
  const seen = [];
  let reply;
  while (!reply) {
    const m = await a.nextJson();
    if ('status' in m) reply = m;
    else { assert.equal(m.event_name, 'tick'); seen.push(m.data.seq); assert.equal(m.data.data, 'd'); }
  }
  assert.deepEqual(seen, [...Array(50).keys()], 'every push before the reply, in order');
  assert.deepEqual(reply.data, { pushed: 50 });
  await a.close();
});

test('the counters module publishes every change on the "counters" topic', async () => {
  const watcher = await connect(srv.url);
  await sub(watcher, 'counters');
  const c = await connect(srv.url);
  await c.request({ cmd: 'increment', args: { key: 'pc' } });
  await c.request({ cmd: 'set', args: { key: 'pc', value: 10 } });
  await c.request({ cmd: 'rem', args: { key: 'pc' } });
  const got = [];
  for (let i = 0; i < 3; i++) got.push((await watcher.nextJson()).data);
  assert.deepEqual(got, [{ key: 'pc', value: 1 }, { key: 'pc', value: 10 }, { key: 'pc', value: null }]);
  await Promise.all([watcher.close(), c.close()]);
});
