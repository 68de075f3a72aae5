// SPDX-License-Identifier: MIT
// Handshake security (issue 4): the Origin allow-list, slow and oversized
// handshakes, connection limits, the idle policy, and lws 4.1.6's
// "Upgrade: foo" path, against the real wsrouterd.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import WebSocket from 'ws';
import { connect, withServer, withTimeout } from './harness.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Tries a handshake with `headers`; resolves 'open', 'HTTP <code>' or an error code. */
function tryHandshake(url, options = {}) {
  return withTimeout(new Promise((resolve) => {
    const ws = new WebSocket(url, options);
    ws.once('open', () => { ws.close(); resolve('open'); });
    ws.once('unexpected-response', (_q, res) => { resolve(`HTTP ${res.statusCode}`); res.destroy(); });
    ws.once('error', (e) => resolve(e.code ?? e.message));
  }), 5000, 'the handshake');
}

/** A raw TCP exchange: writes `chunks` (strings, or numbers meaning "sleep ms"),
 * resolves with what the server sent and whether it closed. */
async function raw(port, chunks, waitMs = 3000) {
  const sock = net.connect(port, '127.0.0.1');
  sock.on('error', () => {});
  let got = '';
  let closed = false;
  sock.on('data', (d) => { got += d; });
  const closing = new Promise((r) => sock.once('close', () => { closed = true; r(); }));
  await withTimeout(new Promise((r) => sock.once('connect', r)), 5000, 'connect');
  for (const c of chunks) {
    if (closed) break;
    if (typeof c === 'number') await sleep(c);
    else sock.write(c);
  }
  await Promise.race([closing, sleep(waitMs)]);
  sock.destroy();
  return { got, closed };
}

describe('Origin allow-list', () => {
  const allowed = 'https://app.example.com,http://localhost:8080';

  test('exact matches pass; no Origin passes; everything else is a 403 before the upgrade', async () => {
    await withServer(['--origins', allowed], async (srv) => {
      const ok = ['https://app.example.com', 'https://APP.example.com', 'https://app.example.com:443',
        'http://localhost:8080'];
      for (const origin of ok) assert.equal(await tryHandshake(srv.url, { origin }), 'open', origin);
      assert.equal(await tryHandshake(srv.url, {}), 'open', 'no Origin (not a browser)');
      // lws 4.1.6 cannot tell an empty Origin from none; browsers never send one.
      assert.equal(await tryHandshake(srv.url, { headers: { Origin: '' } }), 'open');
      const refused = ['https://app.example.evil', 'https://app.example.com.evil', 'null',
        'https://app.example.com:8443', 'http://app.example.com', 'https://evil.com/https://app.example.com',
        'https://app.example.com/', 'http://localhost:8081', 'http://localhost', 'https://localhost:8080',
        'https://user@app.example.com', '*'];
      for (const origin of refused) {
        const headers = { Origin: origin };
        assert.equal(await tryHandshake(srv.url, { headers }), 'HTTP 403', JSON.stringify(origin));
      }
      const c = await connect(srv.url);
      const stats = await c.request({ cmd: 'stats' });
      assert.ok(stats.data.connections.refused >= refused.length);
      await c.close();
    });
  });

  test('an empty list means no check', async () => {
    await withServer([], async (srv) => {
      assert.equal(await tryHandshake(srv.url, { origin: 'https://anything.example' }), 'open');
    });
  });

  test('a malformed allow-list is refused at start', async () => {
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.env.WSRD, ['--port', '0', '--origins', 'app.example.com'], { encoding: 'utf8', timeout: 10000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /origin "app\.example\.com" is not scheme:\/\/host\[:port\]/);
  });
});

describe('handshake limits', () => {
  test('a slowloris handshake is dropped on time while others connect', async () => {
    await withServer(['--set', 'handshake_timeout_ms=1000'], async (srv) => {
      const t0 = Date.now();
      const slow = raw(srv.port, ['GET / HTTP/1.1\r\n', 300, 'Host: x\r\n', 300, 'Upgrade: websocket\r\n',
        300, 'X-a: 1\r\n', 300, 'X-b: 1\r\n', 300, 'X-c: 1\r\n', 300, 'X-d: 1\r\n', 300, 'X-e: 1\r\n'], 4000);
      // Meanwhile, others are served at once.
      for (let i = 0; i < 5; i++) {
        const c = await connect(srv.url);
        assert.equal((await c.request({ cmd: 'ping' })).data, 'PONG');
        await c.close();
      }
      const r = await slow;
      assert.ok(r.closed, 'the slow client was not dropped');
      const took = Date.now() - t0;
      assert.ok(took >= 900 && took < 3000, `dropped after ${took} ms`);
    });
  });

  test('a client that connects and says nothing is dropped', async () => {
    await withServer(['--set', 'handshake_timeout_ms=800'], async (srv) => {
      const t0 = Date.now();
      const r = await raw(srv.port, [], 4000);
      assert.ok(r.closed);
      assert.ok(Date.now() - t0 < 3000);
    });
  });

  test('headers past max_header_bytes are refused', async () => {
    await withServer(['--set', 'max_header_bytes=2048'], async (srv) => {
      const r = await raw(srv.port, ['GET / HTTP/1.1\r\nHost: x\r\nX-big: ' + 'a'.repeat(4000) + '\r\n\r\n'], 3000);
      assert.ok(r.closed);
      assert.doesNotMatch(r.got, /^HTTP\/1.1 (101|200)/);
      const c = await connect(srv.url);
      assert.equal((await c.request({ cmd: 'ping' })).data, 'PONG');
      await c.close();
    });
  });

  test('max_connections: past the total, connections are refused and counted', async () => {
    await withServer(['--set', 'max_connections=3', '--io-threads', '2'], async (srv) => {
      const open = [];
      for (let i = 0; i < 3; i++) open.push(await connect(srv.url));
      assert.notEqual(await tryHandshake(srv.url), 'open');
      await open.pop().close();
      await sleep(100);
      const again = await connect(srv.url);
      const stats = await again.request({ cmd: 'stats' });
      assert.ok(stats.data.connections.refused >= 1);
      await again.close();
      await Promise.all(open.map((c) => c.close()));
    });
  });

  test('max_connections_per_ip: one address cannot take more', async () => {
    await withServer(['--set', 'max_connections_per_ip=2'], async (srv) => {
      const a = await connect(srv.url);
      const b = await connect(srv.url);
      assert.notEqual(await tryHandshake(srv.url), 'open');
      // Over IPv6 loopback is another address... but the server binds IPv4 here;
      // closing one frees a place.
      await a.close();
      await sleep(100);
      const c = await connect(srv.url);
      await Promise.all([b.close(), c.close()]);
    });
  });
});

describe('idle policy', () => {
  test('a silent client that does not answer pings is closed 1001 on schedule', async () => {
    await withServer(['--set', 'idle_ping_ms=300', '--set', 'idle_close_ms=1200'], async (srv) => {
      const mute = await connect(srv.url, { autoPong: false });
      let pings = 0;
      mute.ws.on('ping', () => { pings++; });
      const lively = await connect(srv.url); // ws answers pings by itself
      const t0 = Date.now();
      const { code, reason } = await withTimeout(mute.closed, 5000, 'the idle close');
      const took = Date.now() - t0;
      assert.equal(code, 1001);
      assert.equal(reason, 'idle: no traffic and no pong');
      assert.ok(took >= 1000 && took < 2500, `closed after ${took} ms`);
      assert.ok(pings >= 1, 'no ping was sent');
      // The client that answers pings (and sends nothing else) stays open.
      await sleep(500);
      assert.equal(lively.ws.readyState, WebSocket.OPEN);
      assert.equal((await lively.request({ cmd: 'ping' })).data, 'PONG');
      await lively.close();
    });
  });
});

describe('lws 4.1.6 upgrade path', () => {
  test('"Upgrade: foo" is refused and the server keeps serving (clean under ASan)', async () => {
    await withServer([], async (srv) => {
      for (let i = 0; i < 5; i++) {
        const r = await raw(srv.port, ['GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n'], 1000);
        assert.doesNotMatch(r.got, /^HTTP\/1.1 101/);
      }
      const c = await connect(srv.url);
      assert.equal((await c.request({ cmd: 'ping' })).data, 'PONG');
      await c.close();
    });
  });
});
