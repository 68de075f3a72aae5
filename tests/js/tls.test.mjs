// SPDX-License-Identifier: MIT
// wss:// (issue 4): the real wsrouterd with certificates made by
// certs/mkcerts.sh in a temporary directory, driven by Node's ws and by
// openssl s_client.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startServer, connect, withServer, withTimeout, waitFor } from './harness.mjs';

const SRC = process.env.WSR_SOURCE_DIR ?? new URL('../..', import.meta.url).pathname;
let dir;
let certs;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'wsrd-tls-'));
  execFileSync(join(SRC, 'certs', 'mkcerts.sh'), [join(dir, 'a')]);
  execFileSync(join(SRC, 'certs', 'mkcerts.sh'), [join(dir, 'b')]); // an unrelated second set
  const f = (set, name) => join(dir, set, name);
  certs = {
    ca: readFileSync(f('a', 'ca.pem')),
    otherCa: readFileSync(f('a', 'other-ca.pem')),
    clientCert: readFileSync(f('a', 'client.pem')),
    clientKey: readFileSync(f('a', 'client.key')),
    path: f,
  };
});

after(() => rmSync(dir, { recursive: true, force: true }));

const tlsArgs = (extra = []) => ['--tls-port', '0', '--tls-cert', certs.path('a', 'server.pem'),
  '--tls-key', certs.path('a', 'server.key'), '--modules', 'all', ...extra];

const wssUrl = (srv) => srv.wss;

/** startServer, plus the wss:// URL wsrouterd printed. */
async function startTls(extra) {
  const srv = await startServer(tlsArgs(extra));
  const m = /wss:\/\/127\.0\.0\.1:(\d+)/.exec(srv.stdout());
  srv.wss = `wss://127.0.0.1:${m[1]}`;
  srv.wssPort = Number(m[1]);
  return srv;
}

/** Opens a raw ws connection with TLS options; resolves 'open' or the error. */
function tryConnect(url, options) {
  return withTimeout(new Promise((resolve) => {
    const ws = new WebSocket(url, options);
    ws.once('open', () => { ws.close(); resolve('open'); });
    ws.once('error', (e) => resolve(e.code ?? e.message));
    ws.once('unexpected-response', (_q, res) => resolve(`HTTP ${res.statusCode}`));
  }), 5000, `connect to ${url}`);
}

function sClient(port, args) {
  return spawnSync('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args],
    { input: '', encoding: 'utf8', timeout: 10000 });
}

describe('wss://', () => {
  test('a wss round trip through ws, with ws:// served alongside', async () => {
    const srv = await startTls();
    try {
      const c = await connect(wssUrl(srv), { ca: certs.ca });
      assert.equal((await c.request({ cmd: 'add', args: { x: 1, y: 2 } })).data, 3);
      assert.equal((await c.request({ cmd: 'whoami' })).data.cert_subject, null);
      await c.close();
      const p = await connect(srv.url);
      assert.equal((await p.request({ cmd: 'ping' })).data, 'PONG');
      await p.close();
    } finally {
      assert.equal((await srv.stop()).code, 0, srv.stderr());
    }
  });

  test('TLS 1.1 and weak ciphers are refused; TLS 1.2 gets ECDHE+AEAD; ALPN is http/1.1', async () => {
    const srv = await startTls();
    try {
      const old = sClient(srv.wssPort, ['-tls1_1']);
      assert.match(old.stdout + old.stderr, /alert protocol version|no protocols available|wrong version/);
      assert.match(old.stdout, /Cipher is \(NONE\)/);
      const weak = sClient(srv.wssPort, ['-tls1_2', '-cipher', 'AES128-SHA']);
      assert.match(weak.stdout, /Cipher is \(NONE\)/);
      const tls12 = sClient(srv.wssPort, ['-tls1_2', '-CAfile', certs.path('a', 'ca.pem')]);
      assert.match(tls12.stdout, /Cipher is ECDHE-(ECDSA|RSA)-(AES\d+-GCM-SHA\d+|CHACHA20-POLY1305)/);
      const best = sClient(srv.wssPort, ['-alpn', 'h2,http/1.1', '-CAfile', certs.path('a', 'ca.pem')]);
      assert.match(best.stdout, /New, TLSv1\.3/);
      assert.match(best.stdout, /ALPN protocol: http\/1\.1/);
      assert.match(best.stdout, /Verify return code: 0 \(ok\)/);
    } finally {
      await srv.stop();
    }
  });

  test('a client trusting another CA, or checking another name, is refused', async () => {
    const srv = await startTls();
    try {
      assert.equal(await tryConnect(wssUrl(srv), { ca: certs.otherCa }), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
      assert.match(await tryConnect(wssUrl(srv), { ca: certs.ca, servername: 'wrong.example' }),
        /ERR_TLS_CERT_ALTNAME_INVALID|Hostname\/IP does not match/);
      assert.equal(await tryConnect(wssUrl(srv), { ca: certs.ca }), 'open');
      // The server binds 127.0.0.1 only; where /etc/hosts also names ::1
      // localhost (as Debian's does), Node 18, which does not try each
      // address in turn as Node 20 does, would connect to ::1 and be refused.
      assert.equal(await tryConnect(`wss://localhost:${srv.wssPort}`, { ca: certs.ca, family: 4 }), 'open');
    } finally {
      await srv.stop();
    }
  });

  test('plain ws:// to the wss port fails cleanly, and the server keeps serving', async () => {
    const srv = await startTls();
    try {
      const r = await tryConnect(`ws://127.0.0.1:${srv.wssPort}`, {});
      assert.notEqual(r, 'open');
      const sock = net.connect(srv.wssPort, '127.0.0.1');
      sock.on('error', () => {});
      sock.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      await withTimeout(new Promise((res) => sock.once('close', res)), 5000, 'the server to drop plain HTTP');
      const c = await connect(wssUrl(srv), { ca: certs.ca });
      assert.equal((await c.request({ cmd: 'ping' })).data, 'PONG');
      await c.close();
    } finally {
      assert.equal((await srv.stop()).code, 0, srv.stderr());
    }
  });

  test('tls_only serves wss:// and no ws://', async () => {
    const srv = await startServer(tlsArgs(['--set', 'tls_only=true']));
    try {
      assert.doesNotMatch(srv.stdout(), /ws:\/\/127/);
      assert.match(srv.stdout(), /wss:\/\/127\.0\.0\.1:\d+/);
    } finally {
      await srv.stop();
    }
  });

  test('a certificate that does not match its key is refused at start', () => {
    const r = spawnSync(process.env.WSRD, ['--port', '0', '--tls-port', '0', '--tls-cert',
      certs.path('a', 'server.pem'), '--tls-key', certs.path('b', 'server.key')], { encoding: 'utf8', timeout: 10000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /certificate .*server\.pem with key .*server\.key cannot be used/);
  });
});

describe('client certificates', () => {
  test('required: refused without one, accepted with one, subject visible to handlers', async () => {
    const srv = await startTls(['--tls-client-ca', certs.path('a', 'ca.pem'), '--tls-client-auth', 'required']);
    try {
      assert.notEqual(await tryConnect(wssUrl(srv), { ca: certs.ca }), 'open');
      const c = await connect(wssUrl(srv), { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey });
      const who = (await c.request({ cmd: 'whoami' })).data;
      assert.equal(who.cert_subject, 'O=wsrouter,CN=wsrouter test client');
      await c.close();
      // a client certificate from another CA is refused too
      const other = {
        cert: readFileSync(certs.path('b', 'client.pem')),
        key: readFileSync(certs.path('b', 'client.key')),
      };
      assert.notEqual(await tryConnect(wssUrl(srv), { ca: certs.ca, ...other }), 'open');
    } finally {
      assert.equal((await srv.stop()).code, 0, srv.stderr());
    }
  });

  test('optional: accepted without one; a given one must verify', async () => {
    const srv = await startTls(['--tls-client-ca', certs.path('a', 'ca.pem'), '--tls-client-auth', 'optional']);
    try {
      const c = await connect(wssUrl(srv), { ca: certs.ca });
      assert.equal((await c.request({ cmd: 'whoami' })).data.cert_subject, null);
      await c.close();
      const d = await connect(wssUrl(srv), { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey });
      assert.equal((await d.request({ cmd: 'whoami' })).data.cert_subject, 'O=wsrouter,CN=wsrouter test client');
      await d.close();
      const bad = { cert: readFileSync(certs.path('b', 'client.pem')), key: readFileSync(certs.path('b', 'client.key')) };
      assert.notEqual(await tryConnect(wssUrl(srv), { ca: certs.ca, ...bad }), 'open');
    } finally {
      await srv.stop();
    }
  });
});

describe('certificate reload', () => {
  test('SIGHUP loads the new certificate without dropping connections; a bad pair is refused', async () => {
    const live = join(dir, 'live');
    execFileSync('mkdir', ['-p', live]);
    copyFileSync(certs.path('a', 'server.pem'), join(live, 'server.pem'));
    copyFileSync(certs.path('a', 'server.key'), join(live, 'server.key'));
    const srv = await startServer(['--tls-port', '0', '--tls-cert', join(live, 'server.pem'),
      '--tls-key', join(live, 'server.key'), '--io-threads', '2']);
    const port = Number(/wss:\/\/127\.0\.0\.1:(\d+)/.exec(srv.stdout())[1]);
    const url = `wss://127.0.0.1:${port}`;
    const caB = readFileSync(certs.path('b', 'ca.pem'));
    try {
      const kept = await connect(url, { ca: certs.ca });
      // Swap in set b, signed by another CA, and reload.
      copyFileSync(certs.path('b', 'server.pem'), join(live, 'server.pem'));
      copyFileSync(certs.path('b', 'server.key'), join(live, 'server.key'));
      srv.proc.kill('SIGHUP');
      await waitFor(() => (srv.stderr().match(/certificate reloaded/g) ?? []).length >= 2, 5000,
        'both loops to reload');
      // New handshakes see the new certificate (on every loop), old ones keep going.
      for (let i = 0; i < 4; i++) {
        assert.equal(await tryConnect(url, { ca: caB }), 'open');
        assert.notEqual(await tryConnect(url, { ca: certs.ca }), 'open');
      }
      assert.equal((await kept.request({ cmd: 'ping' })).data, 'PONG');
      // A mismatched pair is refused and the current one kept.
      copyFileSync(certs.path('a', 'server.key'), join(live, 'server.key'));
      srv.proc.kill('SIGHUP');
      await waitFor(() => /certificate reload refused/.test(srv.stderr()), 5000, 'the refusal');
      assert.equal(await tryConnect(url, { ca: caB }), 'open');
      assert.equal((await kept.request({ cmd: 'ping' })).data, 'PONG');
      await kept.close();
    } finally {
      assert.equal((await srv.stop()).code, 0, srv.stderr());
    }
  });
});
