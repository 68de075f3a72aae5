// SPDX-License-Identifier: MIT
// PROTOCOL.md sections 2 (encodings), 3 (request), 4 (reply) and 7 (built-ins)
// against the real wsrouterd, through Node's `ws`.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, connect } from './harness.mjs';

let srv;
let client;

before(async () => {
  srv = await startServer(['--modules', 'all']);
  client = await connect(srv.url);
});

after(async () => {
  await client.close();
  const { code } = await srv.stop();
  assert.equal(code, 0, srv.stderr());
});

const b64 = (s) => Buffer.from(s).toString('base64');
const unb64 = (s) => Buffer.from(s, 'base64').toString();

describe('section 2: encodings', () => {
  test('a JSON text message is answered in compact JSON text', async () => {
    client.send('  \n {"method":"GET","url":"/hello/bob/42","event_name":"greet"}');
    const m = await client.next();
    assert.equal(m.isBinary, false);
    assert.equal(m.text, '{"status":200,"data":"Hello, bob with ID=42","event_name":"greet"}');
  });

  test('base64 text (padded) is answered in base64 text', async () => {
    client.send(b64('{"cmd":"ping","id":1}'));
    const m = await client.next();
    assert.equal(m.isBinary, false);
    assert.equal(unb64(m.text), '{"status":200,"data":"PONG","id":1,"event_name":null}');
    assert.match(m.text, /^[A-Za-z0-9+/]+=*$/);
  });

  test('base64 text without padding and with surrounding blanks is accepted', async () => {
    const enc = b64('{"cmd":"ping","id":22}').replace(/=+$/, '');
    client.send(`  ${enc}\n`);
    const m = await client.next();
    assert.equal(unb64(m.text), '{"status":200,"data":"PONG","id":22,"event_name":null}');
  });

  test('a binary frame holding base64 is answered in a binary frame (aiorest-ws)', async () => {
    client.send(Buffer.from(b64('{"method":"GET","url":"/hello","event_name":"e"}')), { binary: true });
    const m = await client.next();
    assert.equal(m.isBinary, true);
    assert.equal(unb64(m.text), '{"status":200,"data":"Hello, world!","event_name":"e"}');
  });

  test('errors come back in the format of the request', async () => {
    client.send(b64('{"method":"GET","url":"/nope","id":"x"}'));
    assert.equal(unb64((await client.next()).text),
      '{"status":404,"detail":"no route for /nope","id":"x","event_name":null}');
    client.send(Buffer.from('!!!'), { binary: true });
    const m = await client.next();
    assert.equal(m.isBinary, true);
    assert.equal(unb64(m.text),
      '{"status":400,"detail":"message is not valid base64 (RFC 4648, standard alphabet)","event_name":null}');
  });

  test('U+2028 and U+2029 are escaped and replies carry no blanks', async () => {
    const r = await client.request({ method: 'POST', url: '/echo', data: { 'a b': 'x\u2028y\u2029z', n: [1, 2.5, true, null] } });
    assert.equal(r._raw.text,
      '{"status":200,"data":{"a b":"x\\u2028y\\u2029z","n":[1,2.5,true,null]},"event_name":null}');
  });
});

describe('section 3: request members', () => {
  test('method is case-insensitive and blanks around it are ignored', async () => {
    const r = await client.request({ method: ' get ', url: '/hello' });
    assert.equal(r.status, 200);
    assert.equal(r.data, 'Hello, world!');
  });

  test('every method name is understood', async () => {
    for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']) {
      const r = await client.request({ method, url: '/echo', data: 1 });
      assert.ok([200, 405].includes(r.status), `${method}: ${r._raw.text}`);
    }
  });

  test('a trailing / is ignored', async () => {
    const r = await client.request({ method: 'GET', url: '/hello/' });
    assert.equal(r.data, 'Hello, world!');
  });

  test('the query string is percent-decoded and merged into args, args wins', async () => {
    let r = await client.request({ method: 'GET', url: '/math/add?x=1&y=2.5' });
    assert.equal(r.data, 3.5);
    r = await client.request({ method: 'GET', url: '/math/add?x=1&y=2', args: { y: 40 } });
    assert.equal(r.data, 41);
    r = await client.request({ method: 'GET', url: '/hello/J%C3%BCrgen%20M/7' });
    assert.equal(r.data, 'Hello, Jürgen M with ID=7');
  });

  test('query keys without values, or with empty ones, are empty strings', async () => {
    let r = await client.request({ method: 'POST', url: '/echo?flag', data: 1 });
    assert.equal(r.status, 200, r._raw.text);
    r = await client.request({ method: 'GET', url: '/hello/bob/7?a=&b=1' });
    assert.equal(r.status, 200, r._raw.text);
  });

  test('cmd calls a route by name with args', async () => {
    const r = await client.request({ cmd: 'add', args: { x: 1, y: 2 }, id: 'a' });
    assert.equal(r._raw.text, '{"status":200,"data":3,"id":"a","event_name":null}');
  });

  test('cmd without args takes the other members as parameters (tcpy)', async () => {
    const r = await client.request({ cmd: 'add', x: 1, y: 2 });
    assert.equal(r.data, 3);
  });

  test('data is the body', async () => {
    const r = await client.request({ method: 'PUT', url: '/echo', data: [1, { b: 'c' }] });
    assert.deepEqual(r.data, [1, { b: 'c' }]);
  });

  test('id is echoed verbatim, string or number', async () => {
    for (const id of ['abc', 7, -3, 1.5, 12345678901234]) {
      const r = await client.request({ cmd: 'ping', id });
      assert.equal(r.id, id);
    }
  });

  test('event_name is echoed verbatim, null when absent', async () => {
    for (const event_name of ['x', 3, { a: [1] }, null, false]) {
      const r = await client.request({ cmd: 'ping', event_name });
      assert.deepEqual(r.event_name, event_name);
    }
    const r = await client.request({ cmd: 'ping' });
    assert.equal(r.event_name, null);
    assert.ok('event_name' in r);
  });

  test('token of the wrong type is a 400; a string token is verified (401 when bad)', async () => {
    let r = await client.request({ cmd: 'ping', token: 5 });
    assert.equal(r.status, 400);
    assert.equal(r.detail, 'member token must be a string');
    r = await client.request({ cmd: 'ping', token: 'abc' });
    assert.equal(r.status, 401);
    assert.equal(r.detail, "the request's token is not valid: token must have three segments separated by dots");
  });

  test('other members are kept and never an error', async () => {
    const r = await client.request({ cmd: 'ping', extra: { x: 1 }, another: [1] });
    assert.equal(r.status, 200);
  });
});

describe('section 4: replies and statuses', () => {
  test('PROTOCOL.md example: 405 with allow', async () => {
    client.send('{"method":"DELETE","url":"/counters/a","id":7}');
    assert.equal((await client.next()).text,
      '{"status":405,"detail":"method DELETE is not allowed on /counters/{key}","allow":["GET","POST","PUT"],"id":7,"event_name":null}');
  });

  test('404 names the URL or the command', async () => {
    let r = await client.request({ method: 'GET', url: '/no/such/thing' });
    assert.equal(r.status, 404);
    assert.equal(r.detail, 'no route for /no/such/thing');
    r = await client.request({ cmd: 'nosuch' });
    assert.equal(r.detail, 'no command named nosuch');
  });

  test('422 lists every invalid parameter', async () => {
    const r = await client.request({ cmd: 'add', args: { x: 'one' } });
    assert.equal(r.status, 422);
    assert.deepEqual(r.errors, { x: 'must be a number', y: 'is required' });
    assert.equal(r.detail, 'invalid parameters: x, y');
  });

  test('500 when a handler fails, with no internals in detail', async () => {
    const r = await client.request({ cmd: 'fail', id: 1 });
    assert.equal(r._raw.text,
      '{"status":500,"detail":"the handler failed; see the server log","id":1,"event_name":null}');
  });

  test('counters: retopy telnet session in wsrouter terms', async () => {
    const call = async (cmd, key) => (await client.request({ cmd, args: { key } }));
    assert.equal((await call('increment', 'ta')).data, 1);
    assert.equal((await call('increment', 'ta')).data, 2);
    assert.equal((await call('increment', 'tb')).data, 1);
    assert.equal((await call('increment', 'ta')).data, 3);
    assert.equal((await call('rem', 'ta')).data, null);
    const r = await call('get', 'ta');
    assert.equal(r.status, 404);
    assert.equal(r.detail, 'counter ta not found');
  });

  test('/calc/sum over args.digits (aiorest-ws)', async () => {
    let r = await client.request({ method: 'GET', url: '/calc/sum', args: { digits: [1, 2, 3] } });
    assert.deepEqual(r.data, { sum: 6 });
    r = await client.request({ method: 'GET', url: '/calc/sum' });
    assert.deepEqual(r.data, { sum: 0 });
  });

  test('HEAD answers like GET without data; OPTIONS lists the methods', async () => {
    let r = await client.request({ method: 'HEAD', url: '/hello' });
    assert.equal(r._raw.text, '{"status":200,"data":null,"event_name":null}');
    r = await client.request({ method: 'OPTIONS', url: '/counters/x' });
    assert.deepEqual(r.data, { allow: ['GET', 'POST', 'PUT'] });
  });
});

test('details quoting long UTF-8 input are still valid UTF-8', async () => {
  const path = '/x' + 'é'.repeat(150); // %.200s would cut inside a character
  let r = await client.request({ method: 'GET', url: path });
  assert.equal(r.status, 404);
  assert.ok(r.detail.startsWith('no route for /xé'));
  r = await client.request({ method: 'DELETE', url: '/counters/' + 'é'.repeat(150) });
  assert.equal(r.status, 405);
  r = await client.request({ method: 'GET', url: '/math/add?x=1&y=' + 'ü'.repeat(100) });
  assert.equal(r.status, 422);
  assert.ok(r.errors.y.startsWith('must be a number (got "ü'));
  r = await client.request({ cmd: 'subscribe', args: { topic: 'é'.repeat(150) } });
  assert.equal(r.status, 422);
});

describe('section 7: built-in routes', () => {
  test('commands lists every route with its parameters', async () => {
    const r = await client.request({ method: 'GET', url: '/_/commands' });
    const add = r.data.find((c) => c.name === 'add');
    assert.deepEqual(add.methods, ['GET', 'POST']);
    assert.equal(add.url, '/math/add');
    assert.deepEqual(add.params.map((p) => [p.name, p.type, p.required]), [['x', 'number', true], ['y', 'number', true]]);
    assert.equal(add.auth, false);
    assert.ok(add.doc.length > 0);
    for (const name of ['commands', 'help', 'stats', 'ping', 'increment', 'hello_user', 'echo'])
      assert.ok(r.data.some((c) => c.name === name), name);
  });

  test('help describes one command; unknown is a 404', async () => {
    let r = await client.request({ method: 'GET', url: '/_/help?command=set' });
    assert.equal(r.data.name, 'set');
    assert.equal(r.data.params.find((p) => p.name === 'value').type, 'int');
    r = await client.request({ cmd: 'help', args: { command: 'zzz' } });
    assert.equal(r.status, 404);
  });

  test('stats counts requests by status and per route', async () => {
    await client.request({ cmd: 'ping' });
    const r = await client.request({ method: 'GET', url: '/_/stats' });
    assert.ok(r.data.requests.total > 10);
    assert.ok(r.data.requests.by_status['200'] > 5);
    assert.ok(r.data.requests.by_status['404'] >= 1);
    assert.ok(r.data.routes.ping.count >= 1);
    assert.equal(typeof r.data.routes.ping.p99_ms, 'number');
    assert.ok(r.data.connections.open >= 1);
    assert.ok(r.data.uptime_s > 0);
    assert.equal(r.data.workers.threads, 4);
  });

  test('ping answers PONG', async () => {
    assert.equal((await client.request({ method: 'GET', url: '/_/ping' })).data, 'PONG');
  });
});

test('built-ins can be switched off', async () => {
  const s = await startServer(['--set', 'builtins=false']);
  const c = await connect(s.url);
  const r = await c.request({ cmd: 'ping' });
  assert.equal(r.status, 404);
  await c.close();
  await s.stop();
});
