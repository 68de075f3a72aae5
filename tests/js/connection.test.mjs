// SPDX-License-Identifier: MIT
// Connection rules (PROTOCOL.md sections 1, 5 and 9) against the real wsrouterd:
// pipelining, fragmentation, message and queue limits, close codes, the
// subprotocol, the bind address, malformed requests, and the graceful drain.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { startServer, connect, withServer, withTimeout } from './harness.mjs';

describe('pipelining and fragmentation', () => {
  test('1 000 pipelined requests are answered in order', async () => {
    await withServer([], async (srv) => {
      const c = await connect(srv.url);
      for (let i = 0; i < 1000; i++) c.send(JSON.stringify({ cmd: 'add', args: { x: i, y: 1 }, id: i }));
      for (let i = 0; i < 1000; i++) {
        const r = await c.nextJson(10000);
        assert.equal(r.id, i);
        assert.equal(r.data, i + 1);
      }
      await c.close();
    });
  });

  test('a message fragmented into 100 frames is reassembled', async () => {
    await withServer([], async (srv) => {
      const c = await connect(srv.url);
      const payload = 'x'.repeat(5000);
      const msg = Buffer.from(JSON.stringify({ method: 'POST', url: '/echo', data: payload, id: 'frag' }));
      const step = Math.ceil(msg.length / 100);
      let frames = 0;
      for (let off = 0; off < msg.length; off += step) {
        const fin = off + step >= msg.length;
        c.ws.send(msg.subarray(off, off + step), { binary: false, fin });
        frames++;
      }
      assert.equal(frames, 100);
      const r = await c.nextJson();
      assert.equal(r.id, 'frag');
      assert.equal(r.data, payload);
      // ... and a binary (base64) message in fragments too
      const b = Buffer.from(Buffer.from('{"cmd":"ping","id":"bin"}').toString('base64'));
      c.ws.send(b.subarray(0, 10), { binary: true, fin: false });
      c.ws.send(b.subarray(10), { binary: true, fin: true });
      const m = await c.next();
      assert.equal(m.isBinary, true);
      assert.equal(JSON.parse(Buffer.from(m.text, 'base64')).id, 'bin');
      await c.close();
    });
  });
});

describe('limits and close codes (section 9)', () => {
  test('a message exactly at the limit is served; one byte over closes 1009', async () => {
    await withServer(['--max-message', '64K'], async (srv) => {
      const limit = 64 * 1024;
      const head = '{"method":"POST","url":"/echo","data":"';
      const tail = '"}';
      const c = await connect(srv.url);
      c.send(head + 'y'.repeat(limit - head.length - tail.length) + tail);
      const r = await c.nextJson();
      assert.equal(r.status, 200);
      c.send(head + 'y'.repeat(limit - head.length - tail.length + 1) + tail);
      const { code } = await withTimeout(c.closed, 5000, 'close 1009');
      assert.equal(code, 1009);
      // fragmented past the limit as well
      const d = await connect(srv.url);
      d.ws.send('{"data":"' + 'z'.repeat(40000), { fin: false });
      d.ws.send('z'.repeat(40000), { fin: false });
      assert.equal((await withTimeout(d.closed, 5000, 'close 1009')).code, 1009);
      // the server keeps serving everyone else
      const e = await connect(srv.url);
      assert.equal((await e.request({ cmd: 'ping' })).data, 'PONG');
      await e.close();
    });
  });

  test('a message one byte over the default 1 MiB limit closes 1009', async () => {
    await withServer([], async (srv) => {
      const c = await connect(srv.url);
      c.send(Buffer.alloc(1024 * 1024 + 1, 0x41), { binary: true });
      assert.equal((await withTimeout(c.closed, 10000, 'close 1009')).code, 1009);
    });
  });

  test('invalid UTF-8 in a text message closes 1007', async () => {
    await withServer([], async (srv) => {
      const c = await connect(srv.url);
      c.ws.send(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), { binary: false });
      assert.equal((await withTimeout(c.closed, 5000, 'close 1007')).code, 1007);
      const d = await connect(srv.url);
      assert.equal((await d.request({ cmd: 'ping' })).data, 'PONG');
      await d.close();
    });
  });

  test('a WebSocket protocol violation closes 1002', async () => {
    await withServer([], async (srv) => {
      // A raw socket: handshake by hand, then a frame with a reserved opcode.
      // (lws 4.1.6 does not refuse unmasked client frames; see docs/protocol.md.)
      const sock = net.connect(srv.port, '127.0.0.1');
      await withTimeout(new Promise((r) => sock.once('connect', r)), 5000, 'tcp connect');
      const key = crypto.randomBytes(16).toString('base64');
      sock.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      let buf = Buffer.alloc(0);
      sock.on('data', (d) => { buf = Buffer.concat([buf, d]); });
      await withTimeout(new Promise((r) => { const t = setInterval(() => { if (buf.includes('\r\n\r\n')) { clearInterval(t); r(); } }, 5); }), 5000, 'handshake');
      assert.match(buf.toString(), /^HTTP\/1.1 101/);
      buf = buf.subarray(buf.indexOf('\r\n\r\n') + 4);
      sock.write(Buffer.from([0x83, 0x80, 1, 2, 3, 4])); // opcode 3 is reserved
      await withTimeout(new Promise((r) => { const t = setInterval(() => { if (buf.length >= 4) { clearInterval(t); r(); } }, 5); }), 5000, 'the close frame');
      sock.destroy();
      // The server's close frame: 0x88, length, then the code.
      assert.equal(buf[0], 0x88);
      assert.equal(buf.readUInt16BE(2), 1002);
    });
  });

  test('a client that does not read is closed 1008 when its queue passes the cap', async () => {
    await withServer(['--modules', 'all', '--set', 'max_outbound=256K'], async (srv) => {
      const c = await connect(srv.url);
      c.ws._socket.pause(); // stop reading: replies pile up in the server's queue
      for (let i = 0; i < 400; i++) c.send(JSON.stringify({ cmd: 'big', args: { bytes: 60000 }, id: i }));
      await new Promise((r) => setTimeout(r, 500));
      c.ws._socket.resume();
      const { code } = await withTimeout(c.closed, 10000, 'close 1008');
      assert.equal(code, 1008);
      const d = await connect(srv.url);
      assert.equal((await d.request({ cmd: 'ping' })).data, 'PONG');
      const stats = await d.request({ cmd: 'stats' });
      assert.equal(stats.data.closes['1008'], 1);
      await d.close();
    });
  });
});

describe('malformed requests', () => {
  test('20 kinds of malformed request each get their own 400 and the connection stays usable', async () => {
    await withServer([], async (srv) => {
      const c = await connect(srv.url);
      const cases = [
        ['{"method":"GET","url":"/x"', 'message is not valid JSON: it ends too early'],
        ['{}', 'request needs method and url, or cmd'],
        ['{"a":1,"a":2}', null], // duplicate key: jansson's sentence, checked below
        ['{"method":5,"url":"/x"}', 'member method must be a string'],
        ['{"method":"GET","url":5}', 'member url must be a string'],
        ['{"method":"GET","url":"x"}', 'member url must be a path starting with / (got "x")'],
        ['{"method":"FETCH","url":"/x"}', 'method FETCH is not supported (use GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS)'],
        ['{"method":"GET"}', 'member url is missing (method GET needs one)'],
        ['{"url":"/x"}', 'member method is missing (url /x needs one)'],
        ['{"cmd":7}', 'member cmd must be a string'],
        ['{"cmd":""}', 'member cmd must not be empty'],
        ['{"cmd":"ping","method":"GET","url":"/"}', 'request must give either cmd or method and url, not both'],
        ['{"cmd":"ping","args":[1]}', 'member args must be an object'],
        ['{"cmd":"ping","id":{"a":1}}', 'member id must be a string or a number'],
        ['{"cmd":"ping","token":[]}', 'member token must be a string'],
        ['{"method":"GET","url":""}', 'member url must be a path starting with / (got "")'],
        ['{"method":"GET","url":"/a\\u0000b"}', 'member url must not contain a NUL character'],
        ['{"method":"GET","url":"/math/add?x=%zz"}', 'url query has a bad percent-escape or invalid UTF-8 in "x=%zz"'],
        ['{"method":"GET","url":"/hello/%ff/1"}', 'url path /hello/%ff/1 has a bad percent-escape or invalid UTF-8'],
        ['{"cmd":"ping"} trailing', null],
        ['{"method":"GET","url":"/x"}{"cmd":"ping"}', null],
        ['{"a":' + '['.repeat(70) + ']'.repeat(70) + '}', 'message nests deeper than 64 levels'],
      ];
      const details = new Set();
      for (const [msg, want] of cases) {
        c.send(msg);
        const r = await c.nextJson();
        assert.equal(r.status, 400, msg);
        if (want) assert.equal(r.detail, want, msg);
        else assert.match(r.detail, /^message is not valid JSON: /, msg);
        details.add(r.detail);
        // the connection stays usable after each one
        assert.equal((await c.request({ cmd: 'ping' })).data, 'PONG');
      }
      assert.ok(details.size >= 20, `only ${details.size} distinct details`);
      // base64 flavours (text that begins with a base64 character)
      c.send('QR==');
      assert.equal(JSON.parse(Buffer.from((await c.next()).text, 'base64')).detail,
        'message is not valid base64 (RFC 4648, standard alphabet)');
      // anything else is JSON (section 2): '@' is answered in JSON
      c.send('@@@@');
      assert.equal((await c.nextJson()).detail,
        "message is not valid JSON: a value was expected, not '@' (line 1, column 1)");
      c.send(Buffer.from('not json').toString('base64'));
      assert.match(JSON.parse(Buffer.from((await c.next()).text, 'base64')).detail, /^message is not valid JSON/);
      c.send(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]).toString('base64'));
      assert.equal(JSON.parse(Buffer.from((await c.next()).text, 'base64')).detail, 'message is not valid UTF-8');
      c.send('');
      assert.equal(JSON.parse(Buffer.from((await c.next()).text, 'base64')).detail, 'message is empty');
      c.send('"x"'); // JSON, but not an object: a 400 in JSON
      assert.equal((await c.nextJson()).detail, 'message must be a JSON object, not a string');
      c.send('[1,2]'); // JSON, an array: a JSON-RPC batch (section 10)
      assert.deepEqual(JSON.parse((await c.next()).text).map((r) => r.error.code), [-32600, -32600]);
      c.send(Buffer.from('[1,2]').toString('base64'));
      assert.equal(JSON.parse(Buffer.from((await c.next()).text, 'base64')).detail,
        'message must be a JSON object, not an array');
      assert.equal((await c.request({ cmd: 'ping' })).data, 'PONG');
      await c.close();
    });
  });
});

describe('transport', () => {
  test('the wsrouter.v1 subprotocol is selected when asked; none is fine too', async () => {
    await withServer([], async (srv) => {
      const c = await connect(srv.url, { protocols: ['wsrouter.v1'] });
      assert.equal(c.ws.protocol, 'wsrouter.v1');
      assert.equal((await c.request({ cmd: 'ping' })).data, 'PONG');
      await c.close();
      const d = await connect(srv.url);
      assert.equal(d.ws.protocol, '');
      await d.close();
    });
  });

  test('an upgrade on any path reaches the router', async () => {
    await withServer([], async (srv) => {
      const c = await connect(`${srv.url}/some/path?x=1`);
      assert.equal((await c.request({ cmd: 'ping' })).data, 'PONG');
      await c.close();
    });
  });

  test('the server binds exactly the address asked, one listener per event loop', async () => {
    await withServer(['--host', '127.0.0.1', '--io-threads', '3'], async (srv) => {
      const out = execFileSync('ss', ['-Hltn', `sport = :${srv.port}`]).toString().trim().split('\n');
      assert.equal(out.length, 3, out.join('\n'));
      for (const line of out) assert.match(line, new RegExp(`127\\.0\\.0\\.1:${srv.port}\\b`));
    });
  });

  test('IPv6 loopback works when asked', async () => {
    await withServer(['--host', '::1', '--io-threads', '1'], async (srv) => {
      const out = execFileSync('ss', ['-Hltn', `sport = :${srv.port}`]).toString().trim().split('\n');
      assert.equal(out.length, 1, out.join('\n'));
      assert.match(out[0], /\[::1\]/);
      const c = await connect(`ws://[::1]:${srv.port}`);
      assert.equal((await c.request({ cmd: 'ping' })).data, 'PONG');
      await c.close();
    });
  });

  test('plain HTTP on the same port gets an answer, and WebSocket keeps working', async () => {
    await withServer([], async (srv) => {
      const res = await fetch(`http://127.0.0.1:${srv.port}/nothing-here`);
      assert.equal(res.status, 404);
      const c = await connect(srv.url);
      assert.equal((await c.request({ cmd: 'ping' })).data, 'PONG');
      await c.close();
    });
  });
});

describe('shutdown', () => {
  test('SIGTERM: requests in flight are answered, then every connection closes 1001, exit 0', async () => {
    const srv = await startServer(['--modules', 'all']);
    const a = await connect(srv.url);
    const b = await connect(srv.url);
    a.send(JSON.stringify({ cmd: 'later', args: { ms: 400 }, id: 'slow' }));
    b.send(JSON.stringify({ cmd: 'sleep', args: { ms: 300 }, id: 'blocking' }));
    await new Promise((r) => setTimeout(r, 100));
    srv.proc.kill('SIGTERM');
    const ra = await a.nextJson(5000);
    assert.equal(ra.id, 'slow');
    assert.equal(ra.status, 200);
    const rb = await b.nextJson(5000);
    assert.equal(rb.id, 'blocking');
    assert.equal(rb.status, 200);
    assert.equal((await withTimeout(a.closed, 5000, 'close a')).code, 1001);
    assert.equal((await withTimeout(b.closed, 5000, 'close b')).code, 1001);
    const { code } = await withTimeout(srv.exited, 10000, 'exit');
    assert.equal(code, 0, srv.stderr());
  });

  test('requests that arrive while draining get 503', async () => {
    const srv = await startServer(['--modules', 'all']);
    const a = await connect(srv.url);
    a.send(JSON.stringify({ cmd: 'later', args: { ms: 500 }, id: 1 }));
    await new Promise((r) => setTimeout(r, 50));
    srv.proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    a.send(JSON.stringify({ cmd: 'ping', id: 2 }));
    const first = await a.nextJson();
    assert.equal(first.id, 2);
    assert.equal(first.status, 503);
    assert.equal(first.detail, 'the server is shutting down');
    assert.equal((await a.nextJson()).id, 1);
    assert.equal((await withTimeout(a.closed, 5000, 'close')).code, 1001);
    assert.equal((await srv.exited).code, 0);
  });

  test('the drain deadline cuts off a handler that takes too long', async () => {
    const srv = await startServer(['--modules', 'all', '--set', 'shutdown_timeout_ms=300']);
    const a = await connect(srv.url);
    a.send(JSON.stringify({ cmd: 'later', args: { ms: 5000 }, id: 1 }));
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    srv.proc.kill('SIGTERM');
    assert.equal((await withTimeout(a.closed, 5000, 'close')).code, 1001);
    const { code } = await withTimeout(srv.exited, 10000, 'exit');
    assert.equal(code, 0);
    assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
  });
});
