// SPDX-License-Identifier: MIT
// Behind a reverse proxy (issue 12): a real nginx from Debian's package, with
// its own prefix, configuration, pid and logs in a temporary directory (never
// the system service), started and stopped by pid, in front of the real
// wsrouterd. Its configuration is dist/nginx/wsrouter.conf itself, with only
// the ports, the certificate paths and the chosen variant changed, so the
// documented file is the tested one.
//
// Clients get distinct addresses by binding distinct loopback addresses
// (127.0.0.2, 127.0.0.3: all of 127/8 is local on Linux); nginx appends each
// one to X-Forwarded-For as it would a real client's, and trusts nothing the
// client sent itself. wsrouterd trusts 127.0.0.1, nginx's address.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startServer, withServer, withTimeout, waitFor, Client } from './harness.mjs';
import { startNginx } from './nginx.mjs';

const SRC = process.env.WSR_SOURCE_DIR ?? new URL('../..', import.meta.url).pathname;
const TRUST = ['--modules', 'all', '--log-level', 'info', '--set', 'trusted_proxies=127.0.0.1'];
const A = '127.0.0.2';
const B = '127.0.0.3';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let certDir;
before(() => {
  certDir = mkdtempSync(join(tmpdir(), 'wsrd-proxy-certs-'));
  execFileSync(join(SRC, 'certs', 'mkcerts.sh'), [certDir]);
});
after(() => rmSync(certDir, { recursive: true, force: true }));

/** wsrouterd and nginx in front of it, both stopped whatever happens. */
async function withProxy(args, options, fn) {
  await withServer(args, async (srv) => {
    if (options.upstream === 'tls') {
      const m = /wss:\/\/127\.0\.0\.1:(\d+)/.exec(srv.stdout());
      assert.ok(m, 'wsrouterd printed no wss:// port');
      options = { ...options, wss: Number(m[1]) };
    }
    const nginx = await startNginx({ ...options, ws: srv.port, certDir });
    try {
      await fn(srv, nginx);
    } finally {
      await nginx.stop();
    }
  });
}

const tlsArgs = () => ['--tls-port', '0', '--tls-cert', join(certDir, 'server.pem'),
  '--tls-key', join(certDir, 'server.key')];

/** Opens a WebSocket; resolves { client } once open, or { refused } with
 * the HTTP status and body, or the error's code. Bounded. */
function tryOpen(url, options = {}) {
  return withTimeout(new Promise((resolve) => {
    const ws = new WebSocket(url, options);
    ws.once('open', () => resolve({ client: new Client(ws) }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ refused: `HTTP ${res.statusCode}`, body }));
      res.on('error', () => resolve({ refused: `HTTP ${res.statusCode}`, body }));
    });
    ws.once('error', (e) => resolve({ refused: e.code ?? e.message }));
  }), 5000, `a handshake with ${url}`);
}

async function open(url, options) {
  const r = await tryOpen(url, options);
  assert.ok(r.client, `the handshake was refused: ${r.refused} ${r.body ?? ''}`);
  return r.client;
}

async function peerOf(c) {
  const r = await c.request({ cmd: 'whoami', id: 7 });
  assert.equal(r.status, 200, JSON.stringify(r));
  return r.data.peer;
}

/** Retries opening from `localAddress` until it works (a released place is
 * released when nginx's upstream connection is destroyed). Bounded. */
async function openEventually(url, options, ms = 5000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await tryOpen(url, options);
    if (r.client) return r.client;
    if (Date.now() > deadline) throw new Error(`still refused after ${ms} ms: ${r.refused}`);
    await sleep(50);
  }
}

describe('behind nginx', () => {
  test('a client through nginx gets its replies, and handlers and logs see its own address', async () => {
    await withProxy(TRUST, {}, async (srv, nginx) => {
      const a = await open(nginx.url, { localAddress: A });
      assert.equal((await a.request({ cmd: 'ping' })).data, 'PONG');
      assert.equal((await a.request({ cmd: 'add', args: { x: 2, y: 3 }, id: 1 })).data, 5);
      assert.equal(await peerOf(a), A);
      // Many requests in flight through the tunnel.
      for (let i = 0; i < 50; i++) a.send(JSON.stringify({ cmd: 'echo', data: i, id: i }));
      for (let i = 0; i < 50; i++) assert.equal((await a.nextJson()).id, i);
      // What a client writes in X-Forwarded-For or Forwarded itself counts
      // for nothing: nginx appends its real address, and drops Forwarded.
      const b = await open(nginx.url, {
        localAddress: B, headers: { 'X-Forwarded-For': '198.51.100.7', Forwarded: 'for=198.51.100.8' },
      });
      assert.equal(await peerOf(b), B);
      // A client on a trusted address (another proxy, in a chain) is believed.
      const inner = await open(nginx.url, { headers: { 'X-Forwarded-For': '198.51.100.9' } });
      assert.equal(await peerOf(inner), '198.51.100.9');
      await Promise.all([a.close(), b.close(), inner.close()]);
      await sleep(100);
      assert.match(srv.stderr(), new RegExp(`open from ${A.replaceAll('.', '\\.')} via 127\\.0\\.0\\.1:\\d+`));
      assert.match(srv.stderr(), /open from 198\.51\.100\.9 via 127\.0\.0\.1:\d+/);
    });
  });

  test('max_connections_per_ip counts the client behind nginx, not nginx', async () => {
    await withProxy([...TRUST, '--set', 'max_connections_per_ip=1'], {}, async (srv, nginx) => {
      const a = await open(nginx.url, { localAddress: A });
      const b = await open(nginx.url, { localAddress: B }); // nginx's second connection
      assert.equal(await peerOf(b), B);
      const again = await tryOpen(nginx.url, { localAddress: A });
      assert.equal(again.refused, 'HTTP 429', JSON.stringify(again));
      assert.deepEqual(JSON.parse(again.body),
        { status: 429, detail: 'too many connections from this client address' });
      assert.equal((await a.request({ cmd: 'ping' })).data, 'PONG'); // the first is unharmed
      const stats = await a.request({ cmd: 'stats' });
      assert.ok(stats.data.connections.refused >= 1, JSON.stringify(stats.data.connections));
      // Its place comes back when it closes (WSI_DESTROY of nginx's connection).
      await a.close();
      const a2 = await openEventually(nginx.url, { localAddress: A });
      assert.equal(await peerOf(a2), A);
      await Promise.all([a2.close(), b.close()]);
      assert.match(srv.stderr(), /handshake from 127\.0\.0\.2 refused: per-address limit reached/);
    });
  });

  test('without trusted_proxies, every client behind nginx is nginx (the control)', async () => {
    await withProxy(['--modules', 'all', '--set', 'max_connections_per_ip=1'], {}, async (srv, nginx) => {
      const a = await open(nginx.url, { localAddress: A });
      assert.match(await peerOf(a), /^127\.0\.0\.1:\d+$/);
      const b = await tryOpen(nginx.url, { localAddress: B });
      assert.ok(!b.client, 'a second client through nginx got in as nginx');
      await a.close();
    });
  });

  test('idle clients outlive proxy_read_timeout because wsrouterd pings them', async () => {
    // Pinging (every 300 ms) keeps nginx's 1 s timeout from firing...
    await withProxy([...TRUST, '--set', 'idle_ping_ms=300', '--set', 'idle_close_ms=5000'],
      { readTimeout: '1s' }, async (srv, nginx) => {
        const c = await open(nginx.url, { localAddress: A });
        await sleep(2500);
        assert.equal(c.ws.readyState, WebSocket.OPEN);
        assert.equal((await c.request({ cmd: 'ping' })).data, 'PONG');
        await c.close();
      });
    // ...which it does without them.
    await withProxy([...TRUST, '--set', 'idle_ping_ms=0', '--set', 'idle_close_ms=0'],
      { readTimeout: '1s' }, async (srv, nginx) => {
        const c = await open(nginx.url, { localAddress: A });
        const { code } = await withTimeout(c.closed, 5000, 'nginx to time the connection out');
        assert.equal(code, 1006);
      });
  });

  for (const [client, upstream] of [['tls', 'plain'], ['plain', 'tls'], ['tls', 'tls']]) {
    test(`TLS variants: client-${client}, upstream-${upstream}`, async () => {
      const args = upstream === 'tls' ? [...TRUST, ...tlsArgs()] : TRUST;
      await withProxy(args, { client, upstream }, async (srv, nginx) => {
        const ca = readFileSync(join(certDir, 'ca.pem'));
        const c = await open(nginx.url, { localAddress: A, ca, servername: 'localhost' });
        assert.equal((await c.request({ cmd: 'ping' })).data, 'PONG');
        assert.equal(await peerOf(c), A);
        await c.close();
      });
    });
  }
});

describe('directly, without nginx', () => {
  test('a spoofed X-Forwarded-For from an untrusted peer is ignored, for the limit too', async () => {
    await withServer([...TRUST, '--set', 'max_connections_per_ip=1'], async (srv) => {
      const first = await open(srv.url, {
        localAddress: A, headers: { 'X-Forwarded-For': '198.51.100.1', Forwarded: 'for=198.51.100.1' },
      });
      assert.match(await peerOf(first), /^127\.0\.0\.2:\d+$/);
      // Another claimed address from the same peer is the same peer: refused.
      const second = await tryOpen(srv.url, { localAddress: A, headers: { 'X-Forwarded-For': '198.51.100.2' } });
      assert.ok(!second.client, 'a spoofed X-Forwarded-For gave the peer a second place');
      await first.close();
      assert.doesNotMatch(srv.stderr(), /198\.51\.100/);
    });
  });

  test('from a trusted peer: Forwarded, and headers that cannot be believed', async () => {
    await withServer(TRUST, async (srv) => {
      const cases = [
        [{ Forwarded: 'for="[2001:db8::5]:4711";proto=https' }, '2001:db8::5'],
        [{ Forwarded: 'for=198.51.100.1, for=203.0.113.5' }, '203.0.113.5'],
        [{ 'X-Forwarded-For': '198.51.100.1, 203.0.113.6, 127.0.0.1' }, '203.0.113.6'],
        [{ 'X-Forwarded-For': '203.0.113.7', Forwarded: 'for=203.0.113.7' }, '203.0.113.7'],
        // Not believed: the peer's own address.
        [{ 'X-Forwarded-For': '203.0.113.7', Forwarded: 'for=198.51.100.1' }, null],
        [{ 'X-Forwarded-For': 'not-an-address' }, null],
        [{ 'X-Forwarded-For': '203.0.113.7, unknown' }, null],
        [{ Forwarded: 'for="203.0.113.7' }, null],
        [{ Forwarded: 'for=unknown' }, null],
        [{}, null],
      ];
      for (const [headers, want] of cases) {
        const c = await open(srv.url, { headers });
        const peer = await peerOf(c);
        if (want) assert.equal(peer, want, JSON.stringify(headers));
        else assert.match(peer, /^127\.0\.0\.1:\d+$/, JSON.stringify(headers));
        await c.close();
      }
      assert.match(srv.stderr(), /X-Forwarded-For and Forwarded name different clients/);
      assert.match(srv.stderr(), /a forwarding header is malformed/);
    });
  });

  test('the refusal is HTTP 429 with a JSON body, and closes', async () => {
    await withServer([...TRUST, '--set', 'max_connections_per_ip=1'], async (srv) => {
      const hold = await open(srv.url, { headers: { 'X-Forwarded-For': '203.0.113.9' } });
      let s;
      const reply = await withTimeout(new Promise((resolve) => {
        s = net.connect(srv.port, '127.0.0.1', () => s.write(
          'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
          'X-Forwarded-For: 203.0.113.9\r\n\r\n'));
        let got = '';
        s.on('data', (d) => { got += d; });
        s.on('close', () => resolve(got)); // the server closes after the answer
        s.on('error', () => resolve(got));
      }), 5000, 'the refusal and the close').finally(() => s.destroy());
      const [head, body] = reply.split('\r\n\r\n');
      assert.match(head, /^HTTP\/1\.1 429 Too Many Requests\r\n/);
      assert.match(head, /\r\ncontent-type: application\/json/i);
      assert.deepEqual(JSON.parse(body), { status: 429, detail: 'too many connections from this client address' });
      await hold.close();
    });
  });

  test('a bad trusted_proxies entry refuses to start, naming it', async () => {
    for (const [value, sentence] of [
      ['127.0.0.1, proxy.example', '"proxy.example" is not an IP address or a CIDR network'],
      ['10.0.0.1/8', '"10.0.0.1/8" has bits set past its /8 prefix (did you mean 10.0.0.0/8?)'],
      ['fd00::/129', '"fd00::/129": the prefix length of an IPv6 network is from 0 to 128'],
    ]) {
      await assert.rejects(startServer(['--set', `trusted_proxies=${value}`]),
        (e) => e.message.includes(`trusted_proxies: ${sentence}`) || assert.fail(e.message));
    }
  });
});
