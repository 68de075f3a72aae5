// SPDX-License-Identifier: MIT
// The log as an operator reads it (README "Operating wsrouter"): one access
// line per request with its fields, text lines with ISO 8601 UTC stamps or
// JSON objects (log_format), signal messages through the same sink, the
// access log's own switch, and libwebsockets' notices kept out of `debug`
// unless log_lws asks for them. Real wsrouterd on a free port; every wait bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, waitFor, withServer, withTimeout } from './harness.mjs';

const STAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[(err|warn|notice|info|debug)\] /;

/** Sends one text line on a raw TCP connection and resolves with the answer. */
function rawLine(port, line) {
  return withTimeout(new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(`${line}\r\n`));
    let got = '';
    s.on('data', (d) => {
      got += d;
      if (got.includes('\n')) { s.end(); resolve(got); }
    });
    s.on('error', reject);
  }), 5000, 'a raw TCP answer');
}

function rawPort(srv) {
  return Number(/listening on tcp:\/\/\S+?:(\d+)\//.exec(srv.stdout())[1]);
}

test('an access line per request: connection, address, user, request, status, us, bytes, transport', async () => {
  const srv0 = await withServer(['--log-level', 'info', '--raw-port', '0'], async (srv) => {
    const c = await connect(srv.url);
    assert.equal((await c.request({ method: 'GET', url: '/math/add?x=1&y=2' })).data, 3);
    assert.equal((await c.request({ method: 'GET', url: '/nope' })).status, 404);
    assert.equal((await c.request({ cmd: 'ping' })).data, 'PONG');
    await c.close();
    assert.match(await rawLine(rawPort(srv), 'PING'), /PONG/);
    return srv;
  });
  const stderr = srv0.stderr(); // after the stop: its lines too
  const access = stderr.split('\n').filter((l) => l.includes('] access '));
  assert.equal(access.length, 4, stderr);
  for (const l of access) assert.match(l, STAMP);
  const add = /access conn#([0-9a-f]+) 127\.0\.0\.1 - "GET \/math\/add" 200 (\d+)us in=(\d+) out=(\d+) websocket$/.exec(access[0]);
  assert.ok(add, access[0]);
  assert.equal(Number(add[3]), JSON.stringify({ method: 'GET', url: '/math/add?x=1&y=2' }).length);
  assert.equal(Number(add[4]), '{"status":200,"data":3,"event_name":null}'.length);
  assert.match(access[1], new RegExp(`access conn#${add[1]} 127\\.0\\.0\\.1 - "GET /nope" 404 \\d+us in=\\d+ out=\\d+ websocket$`));
  assert.match(access[2], /"cmd ping" 200 \d+us in=14 out=\d+ websocket$/);
  assert.match(access[3], /"cmd ping" 200 \d+us in=4 out=\d+ text$/);
  // The SIGTERM the harness sent is a line of the same sink, not a bare stderr message.
  assert.match(stderr, /Z \[notice\] SIGTERM: draining \(send it again to force\)\n/);
  assert.match(stderr, /Z \[notice\] stopped\n/);
  for (const l of stderr.trim().split('\n')) assert.match(l, STAMP, `a line without stamp or level: ${l}`);
});

test('access_log off: no access lines, the rest of the info log stays', async () => {
  await withServer(['--log-level', 'info', '--set', 'access_log=false'], async (srv) => {
    const c = await connect(srv.url);
    assert.equal((await c.request({ cmd: 'ping' })).data, 'PONG');
    await c.close();
    // stderr is a pipe of its own: its lines may still be on their way.
    await waitFor(() => /\[info\] conn#\S+ open from 127\.0\.0\.1/.test(srv.stderr()), 5000, 'the open line');
    assert.ok(!srv.stderr().includes('] access '), srv.stderr());
  });
});

test('log_format json: every line is one object with time, level and msg', async () => {
  const srv0 = await withServer(['--log-level', 'info', '--set', 'log_format=json'], async (srv) => {
    const c = await connect(srv.url);
    assert.equal((await c.request({ method: 'GET', url: '/math/add?x=1&y=2' })).data, 3);
    // A quote and a backslash from the client cannot close the quoted field.
    assert.equal((await c.request({ method: 'GET', url: '/no"pe\\n' })).status, 404);
    await c.close();
    return srv;
  });
  const stderr = srv0.stderr();
  const lines = stderr.trim().split('\n');
  assert.ok(lines.length >= 5, stderr);
  const objs = lines.map((l) => JSON.parse(l));
  for (const o of objs) {
    assert.deepEqual(Object.keys(o), ['time', 'level', 'msg']);
    assert.match(o.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(Math.abs(Date.parse(o.time) - Date.now()) < 600000, o.time);
  }
  assert.ok(objs.some((o) => o.level === 'info' && /^access conn#\S+ 127\.0\.0\.1 - "GET \/math\/add" 200 /.test(o.msg)));
  assert.ok(objs.some((o) => o.level === 'notice' && o.msg.startsWith('SIGTERM: draining')));
  assert.ok(objs.some((o) => o.msg.includes('"GET /no?pe?n" 404')), stderr);
});

test('at debug, libwebsockets stays quiet unless log_lws asks; its lines then carry our stamp', async () => {
  const run = async (extra) => {
    const srv0 = await withServer(['--log-level', 'debug', ...extra], async (srv) => {
      for (let i = 0; i < 4; i++) {
        const c = await connect(srv.url);
        assert.equal((await c.request({ cmd: 'ping' })).data, 'PONG');
        await c.close();
      }
      return srv;
    });
    return srv0.stderr().trim().split('\n');
  };
  const quiet = await run([]);
  assert.equal(quiet.filter((l) => l.includes('] access ')).length, 4, quiet.join('\n'));
  assert.deepEqual(quiet.filter((l) => l.includes('lws: ')), []);
  // Four short connections: their opens, accesses and closes, and a few lines
  // of start and stop; nothing like lws's 189.
  assert.ok(quiet.length < 30, `${quiet.length} lines:\n${quiet.join('\n')}`);
  const loud = await run(['--set', 'log_lws=true']);
  const lws = loud.filter((l) => l.includes('lws: '));
  assert.ok(lws.length > 0, loud.join('\n'));
  for (const l of lws) assert.match(l, /Z \[(err|warn|debug)\] lws: /);
  for (const l of loud) assert.match(l, STAMP, `a line without stamp or level: ${l}`);
});

test('the start-up line names only the listeners there are', async () => {
  await withServer(['--log-level', 'notice'], async (srv) => {
    // The harness saw stdout's line; stderr's may still be on its way.
    await waitFor(() => srv.stderr().includes('listening on'), 5000, 'the start-up line on stderr');
    const line = srv.stderr().split('\n').find((l) => l.includes('listening on'));
    assert.match(line, /\[notice\] listening on 127\.0\.0\.1, ws port \d+, \d+ event loop\(s\), \d+ worker\(s\)$/);
    assert.ok(!line.includes('port -1'), line);
  });
});

test('a token whose alg holds a newline and escapes is logged as one printable line', async () => {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  // What a client chose: a newline that would start a forged line, ESC, a quote, a backslash.
  const alg = 'x\n[err] forged\u001b"\\';
  const token = `${b64({ alg, typ: 'JWT' })}.${b64({ sub: 'a' })}.c2ln`;
  const dir = mkdtempSync(join(tmpdir(), 'wsrd-logs-'));
  let srv0;
  try {
    srv0 = await withServer(['--log-level', 'info', '--store', join(dir, 'w.db'), '--set', `jwt_secret=${'s'.repeat(40)}`], async (srv) => {
      await assert.rejects(connect(`${srv.url}/?token=${token}`), /HTTP 401/);
      await waitFor(() => srv.stderr().includes('refused 401'), 5000, 'the refusal in the log');
      return srv;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const lines = srv0.stderr().trim().split('\n');
  for (const l of lines) assert.match(l, STAMP, `a line without stamp or level: ${l}`);
  const refused = lines.find((l) => l.includes('refused 401'));
  assert.match(refused, /\[notice\] handshake from 127\.0\.0\.1 refused 401: token algorithm x\?\[err\] forged\?\?\? is not accepted \(only HS256\)$/);
  assert.ok(!srv0.stderr().includes('\u001b'), 'no escape character reaches the log');
});

test('a refused Origin with an escape, a quote and a backslash is logged printable', async () => {
  const srv0 = await withServer(['--log-level', 'info', '--origins', 'http://ok.example'], async (srv) => {
    // A raw handshake: ws and fetch would not send these bytes in a header.
    const answer = await withTimeout(new Promise((resolve, reject) => {
      const s = net.connect(srv.port, '127.0.0.1', () => s.write(
        'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
        + 'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
        + 'Origin: http://evil\u001b[31m"x\\\r\n\r\n'));
      let got = '';
      s.on('data', (d) => { got += d; });
      s.on('close', () => resolve(got));
      s.on('error', reject);
    }), 5000, 'the refusal');
    assert.match(answer, /^HTTP\/1\.[01] 403 /);
    await waitFor(() => srv.stderr().includes('handshake refused: Origin'), 5000, 'the log line');
    return srv;
  });
  const line = srv0.stderr().split('\n').find((l) => l.includes('handshake refused: Origin'));
  assert.match(line, /\[info\] handshake refused: Origin http:\/\/evil\?\[31m\?x\? is not allowed$/);
  assert.ok(!srv0.stderr().includes('\u001b'), 'no escape character reaches the log');
});
