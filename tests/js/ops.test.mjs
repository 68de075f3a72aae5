// SPDX-License-Identifier: MIT
// The operational endpoints as a load balancer and a scraper use them
// (README "Operating wsrouter"): /_/ready beside /_/health, the ops token
// that guards /_/metrics and /_/stats, and the 405 a wrong method gets.
// Real wsrouterd on a free port; every wait bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { connect, startServer, waitFor, withServer, withTimeout } from './harness.mjs';

const url = (srv, path) => `http://127.0.0.1:${srv.port}${path}`;

/** One kept-alive HTTP connection: get(path) -> { status, body }, in turn. */
async function keepAlive(port) {
  const sock = net.connect(port, '127.0.0.1');
  await withTimeout(new Promise((r, j) => { sock.once('connect', r); sock.once('error', j); }), 5000, 'connect');
  let buf = '';
  sock.on('data', (d) => { buf += d; });
  return {
    async get(path) {
      buf = '';
      sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      await waitFor(() => {
        const m = /\r\ncontent-length: (\d+)\r\n[^]*?\r\n\r\n/i.exec(buf);
        return m && buf.length >= m.index + m[0].length + Number(m[1]);
      }, 5000, `the answer to GET ${path}`);
      return { status: Number(buf.split(' ')[1]), body: JSON.parse(buf.slice(buf.indexOf('\r\n\r\n') + 4)) };
    },
    close: () => sock.destroy(),
  };
}

test('/_/ready is ready while serving, 503 draining once a drain began (as /_/health)', async () => {
  // One event loop: a loop without WebSocket connections ends its drain at
  // once, and would take a kept-alive HTTP connection with it.
  const srv = await startServer(['--modules', 'all', '--io-threads', '1']);
  try {
    const res = await fetch(url(srv, '/_/ready'));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.deepEqual(await res.json(), { status: 'ready' });
    const http = await keepAlive(srv.port);
    assert.deepEqual(await http.get('/_/ready'), { status: 200, body: { status: 'ready' } });
    // A call in flight holds the drain open long enough to ask.
    const a = await connect(srv.url);
    a.send(JSON.stringify({ cmd: 'later', args: { ms: 1500 }, id: 1 }));
    await new Promise((r) => setTimeout(r, 50));
    srv.proc.kill('SIGTERM');
    await waitFor(() => srv.stderr().includes('SIGTERM: draining'), 5000, 'the drain');
    // New connections are refused while draining; one kept alive is told.
    assert.deepEqual(await http.get('/_/ready'), { status: 503, body: { status: 'draining' } });
    assert.deepEqual(await http.get('/_/health'), { status: 503, body: { status: 'draining' } });
    http.close();
    assert.equal((await a.nextJson(5000)).id, 1);
    assert.equal((await srv.exited).code, 0, srv.stderr());
  } finally {
    await srv.stop().catch(() => {});
  }
});

test('a wrong method on an ops endpoint is a 405 with Allow and a sentence; HEAD has no body', async () => {
  await withServer([], async (srv) => {
    for (const [method, path] of [['POST', '/_/health'], ['PUT', '/_/metrics'], ['DELETE', '/_/ready'], ['POST', '/_/stats']]) {
      const res = await fetch(url(srv, path), { method, body: method === 'DELETE' ? undefined : '{}' });
      assert.equal(res.status, 405, `${method} ${path}`);
      assert.equal(res.headers.get('allow'), 'GET, HEAD');
      assert.deepEqual(await res.json(), { status: 405, detail: `${path} answers GET and HEAD, not ${method}` });
    }
    const head = await fetch(url(srv, '/_/health'), { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    // An unknown endpoint stays a 404, whatever the method.
    const res = await fetch(url(srv, '/_/nothing'), { method: 'POST', body: 'x' });
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), { status: 404, detail: 'no endpoint /_/nothing' });
  });
});

test('an ops request with "Content-Length: 0" is answered at once, whatever its method', async () => {
  // lws signals the end of a body only for one of a byte or more: such a
  // request waited forever for it, answered by nothing.
  await withServer([], async (srv) => {
    for (const [method, status] of [['GET', 200], ['HEAD', 200], ['PUT', 405], ['DELETE', 405], ['POST', 405]]) {
      const answer = await withTimeout(new Promise((resolve, reject) => {
        const sock = net.connect(srv.port, '127.0.0.1');
        let got = '';
        sock.on('error', reject);
        sock.on('data', (d) => { got += d; if (/\r\n\r\n/.test(got)) { sock.destroy(); resolve(got); } });
        sock.write(`${method} /_/health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`);
      }), 5000, `the answer to ${method} with Content-Length: 0`);
      assert.match(answer, new RegExp(`^HTTP/1\\.1 ${status} `), `${method}: ${answer}`);
    }
  });
});

test('ops_token guards /_/metrics and /_/stats, not health or readiness, and is never logged', async () => {
  const token = 'ops-0123456789abcdef-secret';
  const srv0 = await withServer(['--set', `ops_token=${token}`, '--log-level', 'debug'], async (srv) => {
    for (const path of ['/_/metrics', '/_/stats']) {
      for (const auth of [undefined, 'Bearer wrong', `Bearer ${token}x`, `Basic ${token}`, token]) {
        const res = await fetch(url(srv, path), { headers: auth ? { Authorization: auth } : {} });
        assert.equal(res.status, 401, `${path} with ${auth}`);
        assert.equal(res.headers.get('www-authenticate'), 'Bearer');
        assert.deepEqual(await res.json(), { status: 401, detail: `${path} needs the ops token: Authorization: Bearer TOKEN` });
      }
      const ok = await fetch(url(srv, path), { headers: { Authorization: `Bearer ${token}` } });
      assert.equal(ok.status, 200, path);
      assert.ok((await ok.text()).length > 100);
    }
    const lower = await fetch(url(srv, '/_/metrics'), { headers: { Authorization: `bearer ${token}` } });
    assert.equal(lower.status, 200, 'the scheme is case-insensitive');
    assert.equal((await fetch(url(srv, '/_/health'))).status, 200);
    assert.equal((await fetch(url(srv, '/_/ready'))).status, 200);
    // The same figures as a request, over WebSocket: not without the admin role.
    const ws = await connect(srv.url);
    try {
      for (const req of [{ cmd: 'stats', id: 1 }, { method: 'GET', url: '/_/stats', id: 2 }]) {
        const r = await ws.request(req);
        assert.equal(r.status, 403, JSON.stringify(req));
        assert.equal(r.detail, 'stats needs the admin role while ops_token is set (or GET /_/stats over HTTP with Authorization: Bearer TOKEN)');
      }
      assert.equal((await ws.request({ cmd: 'ping', id: 3 })).status, 200);
    } finally {
      await ws.close();
    }
    return srv;
  });
  assert.ok(!srv0.stderr().includes(token), 'the ops token is in the log');
});

test('connections are counted by transport in /_/metrics and /_/stats, open ones only', async () => {
  await withServer(['--raw-port', '0'], async (srv) => {
    const raw = Number(/listening on tcp:\/\/\S+?:(\d+)\//.exec(srv.stdout())[1]);
    const a = await connect(srv.url);
    const b = await connect(srv.url);
    const lines = net.connect(raw, '127.0.0.1');
    const nd = net.connect(raw, '127.0.0.1');
    const silent = net.connect(raw, '127.0.0.1'); // no byte yet: no transport
    let got = '';
    lines.on('data', (d) => { got += d; });
    let gotNd = '';
    nd.on('data', (d) => { gotNd += d; });
    await withTimeout(Promise.all([lines, nd, silent].map((s) => new Promise((r) => s.once('connect', r)))), 5000, 'raw connects');
    lines.write('PING\r\n');
    nd.write('{"cmd":"ping"}\n');
    await waitFor(() => got.includes('PONG') && gotNd.includes('PONG'), 5000, 'the raw answers');
    await b.close();
    const gauge = (text, t) => Number(new RegExp(`^wsrouter_transport_connections_open\\{transport="${t}"\\} (\\d+)$`, 'm').exec(text)[1]);
    let text = '';
    // b's close reaches the server's count a moment after its close frame.
    for (let i = 0; i < 100; i++) {
      text = await (await fetch(url(srv, '/_/metrics'))).text();
      if (gauge(text, 'websocket') === 1) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(gauge(text, 'websocket'), 1);
    assert.equal(gauge(text, 'text'), 1);
    assert.equal(gauge(text, 'ndjson'), 1);
    assert.equal(gauge(text, 'resp'), 0);
    assert.equal(gauge(text, 'tcpy'), 0);
    assert.match(text, /^# TYPE wsrouter_transport_connections_open gauge$/m);
    const stats = await (await fetch(url(srv, '/_/stats'))).json();
    assert.deepEqual(stats.connections.by_transport, { websocket: 1, ndjson: 1, resp: 0, tcpy: 0, text: 1 });
    for (const s of [lines, nd, silent]) s.destroy();
    await a.close();
  });
});

/** The ops listener's port, from the start-up output. */
async function opsPort(srv) {
  await waitFor(() => /listening on http:\/\/\S+?:\d+\//.test(srv.stdout()), 5000, 'the ops listener line');
  return Number(/listening on http:\/\/\S+?:(\d+)\//.exec(srv.stdout())[1]);
}

test('ops_port: the ops endpoints on their own listener only; the main port answers them 404', async () => {
  // Every loop: the main port's 404 must not depend on which loop took the connection.
  await withServer(['--set', 'ops_port=0', '--io-threads', '2'], async (srv) => {
    const ops = await opsPort(srv);
    assert.notEqual(ops, srv.port);
    assert.match(srv.stderr(), new RegExp(`listening on 127\\.0\\.0\\.1, ws port ${srv.port}, ops port ${ops}, `));
    const at = (port, path, init) => fetch(`http://127.0.0.1:${port}${path}`, init);
    for (const path of ['/_/health', '/_/ready', '/_/stats', '/_/metrics']) {
      const o = await at(ops, path);
      assert.equal(o.status, 200, path);
      await o.arrayBuffer();
      for (let i = 0; i < 4; i++) { // several connections: both loops of the main port
        const m = await at(srv.port, path);
        assert.equal(m.status, 404, `${path} on the main port`);
        assert.deepEqual(await m.json(), { status: 404, detail: `no endpoint ${path}` });
      }
    }
    assert.match(await (await at(ops, '/_/metrics')).text(), /^wsrouter_build_info\{version="[^"]+"\} 1$/m);
    // The ops listener serves nothing else: no WebSocket, no other path.
    assert.equal((await at(ops, '/')).status, 404);
    await assert.rejects(connect(`ws://127.0.0.1:${ops}/`), /HTTP|socket hang up|ECONNRESET|Unexpected/);
    const post = await at(ops, '/_/ready', { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    await post.arrayBuffer();
    // The main port still does its work.
    const c = await connect(srv.url);
    assert.equal((await c.request({ cmd: 'ping' })).data, 'PONG');
    await c.close();
  });
});

test('ops_port answers health checks when max_connections is reached; ops_host alone is refused', async () => {
  await withServer(['--set', 'ops_port=0', '--set', 'max_connections=1', '--io-threads', '1'], async (srv) => {
    const ops = await opsPort(srv);
    const c = await connect(srv.url);
    await assert.rejects(connect(srv.url), /HTTP|socket hang up|ECONNRESET|closed/);
    const h = await fetch(`http://127.0.0.1:${ops}/_/health`);
    assert.equal(h.status, 200);
    assert.equal((await h.json()).status, 'ok');
    await c.close();
  });
  const bad = await startServer(['--set', 'ops_host=127.0.0.1']).then((s) => s.stop().then(() => null), (e) => e);
  assert.ok(bad instanceof Error, 'ops_host without ops_port must be refused');
  assert.match(bad.message, /ops_host needs ops_port: the port of the ops listener/);
});
