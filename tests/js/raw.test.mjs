// SPDX-License-Identifier: MIT
// Raw TCP (PROTOCOL.md section 8) against the real wsrouterd: every framing
// with a client written here from the wire format (Node's net and tls; a
// Python 3 tcpy client with Debian's python3-msgpack), the real redis-cli
// and nc, and WebSocket clients beside them that must keep being answered
// while a hostile raw client misbehaves. Every wait is bounded.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WSRD, startServer, connect, withTimeout, waitFor } from './harness.mjs';

const SRC = new URL('../..', import.meta.url).pathname;
const TCPY = join(SRC, 'tests', 'js', 'raw', 'tcpy_client.py');
const PY = '/usr/bin/python3'; // Debian's, with python3-msgpack

/** The raw port wsrouterd printed. */
async function rawPort(srv, scheme = 'tcp') {
  const re = new RegExp(`listening on ${scheme.replace('+', '\\+')}://\\S+?:(\\d+)/`);
  await waitFor(() => re.test(srv.stdout()), 5000, `the ${scheme}:// line`);
  return Number(re.exec(srv.stdout())[1]);
}

/** A raw TCP client: bytes in, bytes out, bounded waits. */
class Raw {
  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.waiters = [];
    this.ended = new Promise((resolve) => sock.on('close', resolve));
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiters.splice(0).forEach((w) => w());
    });
    sock.on('close', () => this.waiters.splice(0).forEach((w) => w()));
    sock.on('error', () => {});
  }

  static async open(port, { secure = false, ca } = {}) {
    const sock = secure
      ? tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' })
      : net.connect(port, '127.0.0.1');
    await withTimeout(new Promise((resolve, reject) => {
      sock.once(secure ? 'secureConnect' : 'connect', resolve);
      sock.once('error', reject);
    }), 5000, 'the connection');
    return new Raw(sock);
  }

  send(data) {
    this.sock.write(data);
  }

  /** Resolves once `take(buf)` returns [value, used]; rejects after `ms`. */
  async read(take, ms = 5000, what = 'a frame') {
    const deadline = Date.now() + ms;
    for (;;) {
      const got = take(this.buf);
      if (got) {
        this.buf = this.buf.subarray(got[1]);
        return got[0];
      }
      if (this.sock.destroyed || this.sock.readableEnded) throw new Error(`closed before ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  line(ms) {
    return this.read((b) => {
      const i = b.indexOf(10);
      return i < 0 ? null : [b.subarray(0, i).toString().replace(/\r$/, ''), i + 1];
    }, ms, 'a line');
  }

  async json(ms) {
    return JSON.parse(await this.line(ms));
  }

  /** Waits for the server to close the connection. */
  closed(ms = 5000) {
    return withTimeout(this.ended, ms, 'the server to close the connection');
  }

  destroy() {
    this.sock.destroy();
  }
}

/** One RESP value from `b`: [value, used], or null when incomplete. */
function resp(b, at = 0) {
  const eol = b.indexOf('\r\n', at);
  if (eol < 0) return null;
  const head = b.subarray(at + 1, eol).toString();
  const next = eol + 2;
  switch (String.fromCharCode(b[at])) {
    case '+': return [head, next];
    case '-': return [new Error(head), next];
    case ':': return [Number(head), next];
    case '_': return [null, next];
    case '$': {
      const n = Number(head);
      if (n < 0) return [null, next];
      if (b.length < next + n + 2) return null;
      return [b.subarray(next, next + n).toString(), next + n + 2];
    }
    case '*': case '>': {
      const out = [];
      let pos = next;
      for (let i = 0; i < Number(head); i++) {
        const e = resp(b, pos);
        if (!e) return null;
        out.push(e[0]);
        pos = e[1];
      }
      return [out, pos];
    }
    default: throw new Error(`not RESP: ${b.subarray(at).toString()}`);
  }
}

const respCmd = (...words) =>
  `*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(String(w))}\r\n${w}\r\n`).join('')}`;

function run(cmd, args, input = '') {
  return new Promise((resolve) => {
    const p = execFile(cmd, args, { timeout: 20000, encoding: 'utf8' }, (err, stdout, stderr) =>
      resolve({ code: err ? err.code ?? 1 : 0, stdout, stderr }));
    // A program that takes its commands as arguments may exit before it
    // reads stdin: the EPIPE is not the test's failure.
    p.stdin.on('error', () => {});
    p.stdin.end(input);
  });
}

function userAdd(store, name, password) {
  const r = spawnSync(WSRD, ['user', 'add', name, '--store', store],
    { input: `${password}\n`, encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 0, r.stderr);
}

/** A WebSocket client that must keep being answered: resolves its ping. */
async function stillServes(ws) {
  const r = await ws.request({ cmd: 'ping', id: 'alive' });
  assert.equal(r.status, 200);
  assert.equal(r.data, 'PONG');
}

describe('raw TCP', () => {
  let dir;
  let srv;
  let port;
  let ws;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wsrd-raw-'));
    userAdd(join(dir, 'db'), 'alice', 'alice-password-1');
    srv = await startServer(['--store', join(dir, 'db'), '--modules', 'all', '--raw-port', '0',
      '--max-message', '4096', '--set', 'max_outbound=65536',
      '--set', 'request_timeout_ms=120000']);
    port = await rawPort(srv);
    ws = await connect(srv.url);
  });

  after(async () => {
    await ws?.close().catch(() => {});
    const { code } = await srv.stop();
    assert.equal(code, 0, srv.stderr());
    rmSync(dir, { recursive: true, force: true });
  });

  describe('NDJSON', () => {
    test('v1 requests and JSON-RPC 2.0 lines, one reply line each, CRLF accepted', async () => {
      const c = await Raw.open(port);
      c.send('{"cmd":"add","args":{"x":1,"y":2},"id":1}\r\n');
      c.send('{"jsonrpc":"2.0","method":"add","params":[2,3],"id":"b"}\n');
      c.send('{"method":"GET","url":"/hello/bob/42","event_name":"greet"}\n');
      assert.deepEqual(await c.json(), { status: 200, data: 3, id: 1, event_name: null });
      assert.deepEqual(await c.json(), { jsonrpc: '2.0', result: 5, id: 'b' });
      assert.deepEqual(await c.json(),
        { status: 200, data: 'Hello, bob with ID=42', event_name: 'greet' });
      c.destroy();
    });

    test('the login barrier and refresh: a pipelined login, then the calls that need it', async () => {
      const c = await Raw.open(port);
      const login = { username: 'alice', password: 'alice-password-1' };
      // Sent in one write: the login runs on a worker, and the barrier must
      // hold the three after it until it has answered.
      c.send(`${JSON.stringify({ cmd: 'login', data: login, id: 1 })}\n` +
        '{"cmd":"me","id":2}\n{"cmd":"refresh","id":3}\n{"jsonrpc":"2.0","method":"me","id":4}\n');
      const byId = {};
      for (let i = 0; i < 4; i++) {
        const r = await c.json(120000);
        byId[r.id] = r;
      }
      assert.equal(byId[1].status, 200, JSON.stringify(byId[1]));
      assert.equal(byId[2].status, 200, JSON.stringify(byId[2]));
      assert.equal(byId[2].data.user, 'alice');
      assert.equal(byId[3].status, 200, JSON.stringify(byId[3]));
      assert.equal(typeof byId[3].data.token, 'string');
      assert.ok(byId[3].data.expires_at >= byId[1].data.expires_at);
      assert.equal(byId[4].result.user, 'alice', JSON.stringify(byId[4]));
      // The refreshed token authenticates another connection.
      const other = await Raw.open(port);
      other.send(`${JSON.stringify({ cmd: 'me', token: byId[3].data.token, id: 5 })}\n`);
      assert.equal((await other.json()).data.user, 'alice');
      other.destroy();
      c.destroy();
    });

    test("tornado-TCP's demo request: a cmdid line with params", async () => {
      const c = await Raw.open(port);
      c.send(`${JSON.stringify({ cmdid: 10000, params: { hello: 'tornado' }, timestamp: 1700000000 })}\n`);
      assert.deepEqual(await c.json(), { status: 200, data: { hello: 'tornado' }, event_name: null });
      c.send('{"cmd":"help","args":{"command":"echo"}}\n');
      assert.equal((await c.json()).data.cmdid, 10000, 'help names the cmdid');
      c.send('{"cmdid":424242,"params":{}}\n');
      const r = await c.json();
      assert.equal(r.status, 404);
      assert.match(r.detail, /cmdid 424242/);
      c.destroy();
    });

    test('a line that is not a JSON object is a 400, and the connection goes on', async () => {
      const c = await Raw.open(port);
      c.send('{"cmd":"ping"}\nnope\n{"cmd":"ping","id":2}\n');
      assert.equal((await c.json()).data, 'PONG');
      const bad = await c.json();
      assert.equal(bad.status, 400);
      assert.match(bad.detail, /must be a JSON object/);
      assert.equal((await c.json()).id, 2);
      c.destroy();
    });

    test('a request split byte by byte is served once whole', async () => {
      const c = await Raw.open(port);
      const line = '{"cmd":"add","args":{"x":40,"y":2},"id":7}\n';
      for (const ch of line) {
        c.send(ch);
        await new Promise((r) => setImmediate(r));
      }
      assert.equal((await c.json()).data, 42);
      c.destroy();
    });
  });

  describe('RESP', () => {
    test('redis-cli ping, increment and errors', async () => {
      let r = await run('redis-cli', ['-p', String(port), '--no-raw', 'ping']);
      assert.equal(r.stdout, 'PONG\n', r.stderr);
      r = await run('redis-cli', ['-p', String(port), '--no-raw', 'increment', 'resp-a']);
      assert.equal(r.stdout, '(integer) 1\n', r.stderr);
      r = await run('redis-cli', ['-p', String(port), '--no-raw', 'INCREMENT', 'resp-a']);
      assert.equal(r.stdout, '(integer) 2\n', r.stderr);
      r = await run('redis-cli', ['-p', String(port), '--no-raw', 'get', 'resp-missing']);
      assert.match(r.stdout, /^\(error\) ERR counter resp-missing not found/);
      r = await run('redis-cli', ['-p', String(port), '--no-raw', 'nosuch']);
      assert.match(r.stdout, /^\(error\) ERR no command named nosuch/);
    });

    test('commands typed into redis-cli, pipelined, answered in order', async () => {
      const r = await run('redis-cli', ['-p', String(port), '--no-raw'],
        'set resp-b 5\nincrement resp-b\nget resp-b\nrem resp-b\nping\n');
      assert.equal(r.stdout, '(integer) 5\n(integer) 6\n(integer) 6\nOK\nPONG\n', r.stderr);
    });

    test('3000 pipelined commands answered later are all answered, in order', async () => {
      // Counters run on worker threads: each holds the ones after it. More
      // than a login barrier may hold (1000) must still be served.
      const c = await Raw.open(port);
      const n = 3000;
      c.send(Array.from({ length: n }, () => respCmd('increment', 'resp-pipe')).join(''));
      for (let i = 1; i <= n; i++) assert.equal(await c.read((b) => resp(b), 60000), i);
      c.destroy();
    });

    test('inline commands over a plain socket, after an array', async () => {
      const c = await Raw.open(port);
      c.send(`${respCmd('ping')}add 1 2\r\n`);
      assert.equal(await c.read((b) => resp(b)), 'PONG');
      assert.equal(await c.read((b) => resp(b)), 3);
      c.destroy();
    });
  });

  describe('text lines (retopy)', () => {
    test("retopy's README session replayed with nc", async () => {
      const session = '# header line\nincrement tl-a\nincrement tl-a\nincrement tl-b\n' +
        'increment tl-a\nrem tl-a\nget tl-a\nping\n';
      const r = await run('nc', ['-w', '2', '127.0.0.1', String(port)], session);
      assert.equal(r.stdout.replace(/\r/g, ''),
        '1\n2\n1\n3\n+OK\n-ERR counter tl-a not found\n+PONG\n', r.stderr);
    });

    test('commands, help NAME and stats answer as the default handlers do', async () => {
      const c = await Raw.open(port);
      c.send('commands\nhelp increment\nstats\n');
      const names = JSON.parse(await c.line()).map((x) => x.name);
      assert.ok(names.includes('increment') && names.includes('ping'), names.join());
      const help = JSON.parse(await c.line());
      assert.equal(help.name, 'increment');
      assert.match(help.doc, /counter/);
      const stats = JSON.parse(await c.line());
      assert.ok(stats.connections !== undefined || stats.requests !== undefined,
        Object.keys(stats).join());
      c.destroy();
    });

    test('quoted words group; a wrong type is -ERR naming it', async () => {
      const c = await Raw.open(port);
      c.send('echo\nset "tl c" 7\nget "tl c"\nset tl-d x\n');
      assert.equal(await c.line(), '+OK');
      assert.equal(await c.line(), '7');
      assert.equal(await c.line(), '7');
      assert.match(await c.line(), /^-ERR .*integer/);
      c.destroy();
    });

    test('authenticate username password logs the connection in', async () => {
      const c = await Raw.open(port);
      c.send('me\nauthenticate alice wrong\nauthenticate alice alice-password-1\nme\n');
      assert.match(await c.line(), /^-ERR /);
      assert.match(await c.line(), /^-ERR wrong username or password/);
      const login = JSON.parse(await c.line(120000));
      assert.equal(login.user, 'alice');
      assert.equal(JSON.parse(await c.line()).user, 'alice');
      c.destroy();
    });
  });

  describe('tcpy', () => {
    test('the tutorial call and other routes through a Python client', async () => {
      const r = await run(PY, [TCPY, String(port)], [
        { cmd: 'add', x: 1, y: 2 },
        { cmd: 'sum', digits: [1, 2, 3] },
        { cmd: 'nosuch' },
        { cmd: 'set', key: 'tcpy-a', value: 4 },
      ].map((x) => JSON.stringify(x)).join('\n') + '\n');
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split('\n').map((l) => JSON.parse(l)), [
        { solution: 3, success: true }, // tcpy's tutorial, exactly
        { success: true, sum: 6 },
        { error: true, message: 'no command named nosuch', status: 404 },
        { success: true, result: 4 },
      ]);
    });

    test('a handler that converses: each frame sent while it runs is its input (recv()), '
      + 'its progress a frame (send())', async () => {
      const r = await run(PY, [TCPY, String(port)], [
        { cmd: 'converse', __noreply: true },
        { say: 'hi' },
        { say: 'again', n: 2 },
        { bye: true },
        { cmd: 'add', x: 2, y: 2 }, // after the call: a request again
      ].map((x) => JSON.stringify(x)).join('\n') + '\n');
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split('\n').map((l) => JSON.parse(l)), [
        { push: 'progress', data: { turn: 1, echo: { say: 'hi' } } },
        { push: 'progress', data: { turn: 2, echo: { say: 'again', n: 2 } } },
        { success: true, turns: 3 },
        { solution: 4, success: true },
      ]);
      await stillServes(ws);
    });

    test('behind a call that does not listen, a frame waits its turn as a request', async () => {
      // stream/count sends progress but reads no input: the add sent at once
      // behind it is answered after it, not taken as its input.
      const r = await run(PY, [TCPY, String(port)], [
        { cmd: 'count', n: 2, ms: 100, __noreply: true },
        { cmd: 'add', x: 1, y: 1, __noreply: true },
        { __read: true }, { __read: true }, { __read: true }, { __read: true },
      ].map((x) => JSON.stringify(x)).join('\n') + '\n');
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split('\n').map((l) => JSON.parse(l)), [
        { push: 'progress', data: { i: 1 } },
        { push: 'progress', data: { i: 2 } },
        { success: true, count: 2 },
        { solution: 2, success: true },
      ]);
    });

    test('input past max_call_input gets one 429 frame each, and the call goes on', async () => {
      // Not listening for 1.5 s: the default max_call_input (64) fills.
      const frames = Array.from({ length: 70 }, (_, i) => ({ n: i, __noreply: true }));
      const r = await run(PY, [TCPY, String(port)], [
        { cmd: 'converse', wait_ms: 1500, __noreply: true },
        ...frames,
        ...Array.from({ length: 6 }, () => ({ __read: true })),
        ...Array.from({ length: 64 }, () => ({ __read: true })),
        { bye: true },
      ].map((x) => JSON.stringify(x)).join('\n') + '\n');
      assert.equal(r.code, 0, r.stderr);
      const got = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
      assert.equal(got.length, 71);
      for (const e of got.slice(0, 6)) {
        assert.equal(e.error, true);
        assert.equal(e.status, 429);
        assert.match(e.message, /max_call_input/);
      }
      // The 64 queued inputs, in order, once it listens; then the bye (turn 65).
      assert.deepEqual(got.slice(6, 70).map((e) => e.data.echo.n),
        Array.from({ length: 64 }, (_, i) => i));
      assert.deepEqual(got[70], { success: true, turns: 65 });
    });

    test('a truncated or non-map value gets one error frame, then the close', async () => {
      for (const hex of ['00000003930102', '00000002' + '9101']) {
        const r = await run(PY, [TCPY, String(port), 'expect-close'],
          JSON.stringify({ __raw: hex }) + '\n');
        assert.equal(r.code, 0, r.stderr);
        const [err, closed] = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
        assert.equal(err.error, true);
        assert.equal(err.status, 400);
        assert.match(err.message, /truncated|not a map/);
        assert.equal(closed, 'closed');
        await stillServes(ws);
      }
    });
  });

  describe('pushes and publications', () => {
    test('NDJSON, RESP, text and WebSocket subscribers all receive a publication', async () => {
      const nd = await Raw.open(port);
      const rs = await Raw.open(port);
      const tx = await Raw.open(port);
      nd.send('{"cmd":"subscribe","args":{"topic":"raw-t"},"id":1}\n');
      assert.equal((await nd.json()).status, 200);
      rs.send(respCmd('subscribe', 'raw-t'));
      await rs.read((b) => resp(b));
      tx.send('subscribe raw-t\n');
      await tx.line();
      const wsSub = await connect(srv.url);
      const sub = await wsSub.request({ cmd: 'subscribe', args: { topic: 'raw-t' }, id: 's' });
      assert.equal(sub.status, 200);
      // The publisher is a raw client too, on a connection of its own.
      const pubc = await Raw.open(port);
      pubc.send('{"cmd":"publish","args":{"topic":"raw-t"},"data":{"n":1},"id":"p"}\n');
      const pub = await pubc.json();
      assert.equal(pub.status, 200, JSON.stringify(pub));
      assert.equal(pub.data.delivered, 4);
      const pushWs = await wsSub.nextJson();
      assert.equal(pushWs.topic, 'raw-t');
      assert.deepEqual(pushWs.data, { n: 1 });
      await wsSub.close();
      pubc.destroy();
      const pushNd = await nd.json();
      assert.equal(pushNd.event_name, 'publish');
      assert.equal(pushNd.topic, 'raw-t');
      assert.deepEqual(pushNd.data, { n: 1 });
      assert.deepEqual(await rs.read((b) => resp(b)), ['publish', 'raw-t', ['n', 1]]);
      assert.equal(await tx.line(), '[publish raw-t] {"n":1}');
      nd.destroy();
      rs.destroy();
      tx.destroy();
    });
  });

  describe('bad input closes only the bad connection', () => {
    const cases = [
      ['an NDJSON line over max_message', '{' + 'a'.repeat(5000), (c) => c.json(),
        (m) => { assert.equal(m.status, 400); assert.match(m.detail, /size limit/); }],
      ['a RESP array with a wrong length', '*1\r\n$2\r\nabc\r\n', (c) => c.read((b) => resp(b)),
        (m) => assert.match(m.message, /^ERR malformed message/)],
      ['a RESP array with too many elements', '*5000\r\n', (c) => c.read((b) => resp(b)),
        (m) => assert.match(m.message, /^ERR malformed message/)],
      ['a RESP bulk string over max_message', '*1\r\n$9999\r\n', (c) => c.read((b) => resp(b)),
        (m) => assert.match(m.message, /size limit/)],
      ['a text line with a NUL byte', 'get a\0b\n', (c) => c.line(),
        (m) => assert.match(m, /^-ERR .*NUL/)],
      ['a text line that is not UTF-8', Buffer.from('get \xff\n', 'latin1'), (c) => c.line(),
        (m) => assert.match(m, /^-ERR .*UTF-8/)],
      ['a text line over max_message without a newline', 'x'.repeat(5000), (c) => c.line(),
        (m) => assert.match(m, /^-ERR .*size limit/)],
      ['a tcpy length over max_message', Buffer.from([0, 1, 0, 0, 0x80]),
        (c) => c.read((b) => (b.length >= 4 && b.length >= 4 + b.readUInt32BE(0)
          ? [b.subarray(4, 4 + b.readUInt32BE(0)), 4 + b.readUInt32BE(0)] : null)),
        (m) => assert.ok(m.includes('size limit'), m.toString())],
    ];
    for (const [name, bytes, readOne, check] of cases) {
      test(name, async () => {
        const c = await Raw.open(port);
        c.send(bytes);
        check(await readOne(c));
        await c.closed();
        await stillServes(ws);
      });
    }

    test('a client that sends and never reads is closed at its queue bound', async () => {
      const c = await Raw.open(port);
      c.sock.pause(); // never read
      const line = `{"cmd":"echo","data":"${'z'.repeat(3000)}"}\n`;
      let sent = 0;
      const deadline = Date.now() + 20000;
      while (!c.sock.destroyed && !c.sock.writableEnded && Date.now() < deadline && sent < 20000) {
        if (!c.sock.write(line)) await new Promise((r) => setTimeout(r, 5));
        sent++;
        if (sent % 200 === 0) await stillServes(ws);
      }
      c.sock.resume();
      await c.closed(20000);
      await stillServes(ws);
    });
  });
});

describe('raw TCP past the handshake deadline', () => {
  // The deadline a connection has to begin (handshake_timeout_ms, 10 s by
  // default) used to stay armed on raw connections: every one was closed
  // that long after it opened, however busy.
  let srv;
  let port;

  before(async () => {
    srv = await startServer(['--raw-port', '0', '--set', 'handshake_timeout_ms=800',
      '--set', 'idle_ping_ms=0', '--set', 'idle_close_ms=0']);
    port = await rawPort(srv);
  });

  after(async () => {
    const { code } = await srv.stop();
    assert.equal(code, 0, srv.stderr());
  });

  test('a connection that has spoken stays open past it; a silent one is closed by it', async () => {
    const talker = await Raw.open(port);
    const silent = await Raw.open(port);
    const line = (c) => c.read((b) => {
      const i = b.indexOf('\n');
      return i < 0 ? null : [b.subarray(0, i).toString().replace(/\r$/, ''), i + 1];
    });
    talker.send('ping\n');
    assert.equal(await line(talker), '+PONG');
    await withTimeout(silent.ended, 5000, 'the silent connection closed at the deadline');
    await new Promise((resolve) => setTimeout(resolve, 1500)); // well past 800 ms
    talker.send('ping\n');
    assert.equal(await line(talker), '+PONG');
    talker.destroy();
  });
});

describe('raw TCP idle policy and TLS', () => {
  let dir;
  let srv;
  let port;
  let tlsPort;
  let ca;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wsrd-raw-tls-'));
    spawnSync(join(SRC, 'certs', 'mkcerts.sh'), [dir], { timeout: 60000 });
    ca = readFileSync(join(dir, 'ca.pem'));
    srv = await startServer(['--modules', 'all', '--raw-port', '0', '--raw-tls-port', '0',
      '--tls-port', '0', '--tls-cert', join(dir, 'server.pem'), '--tls-key', join(dir, 'server.key'),
      '--set', 'idle_close_ms=1500', '--set', 'idle_ping_ms=0']);
    port = await rawPort(srv);
    tlsPort = await rawPort(srv, 'tcp+tls');
  });

  after(async () => {
    const { code } = await srv.stop();
    assert.equal(code, 0, srv.stderr());
    rmSync(dir, { recursive: true, force: true });
  });

  test('a thousand silent connections are closed by the idle policy', async () => {
    const ws = await connect(srv.url);
    // Talking from the start: opening the thousand can take longer than
    // idle_close_ms on a loaded machine, and a silent WebSocket would be
    // closed as idle too (it was, in CI, when this began after the opens).
    const alive = setInterval(() => ws.send('{"cmd":"ping"}'), 300);
    try {
      const silent = [];
      for (let i = 0; i < 1000; i++) silent.push(Raw.open(port));
      const opened = await Promise.all(silent);
      await withTimeout(Promise.all(opened.map((c) => c.ended)), 15000, 'the idle closes');
    } finally {
      clearInterval(alive);
    }
    // The WebSocket client kept talking: it is still served.
    ws.queue.length = 0;
    await stillServes(ws);
    await ws.close();
  });

  test('SIGHUP reloads the certificate of raw_tls_port and of wss:// alike', async () => {
    const other = join(dir, 'other');
    const live = join(dir, 'live');
    mkdirSync(live);
    spawnSync(join(SRC, 'certs', 'mkcerts.sh'), [other], { timeout: 60000 });
    copyFileSync(join(dir, 'server.pem'), join(live, 'server.pem'));
    copyFileSync(join(dir, 'server.key'), join(live, 'server.key'));
    const s2 = await startServer(['--io-threads', '1', '--raw-tls-port', '0', '--tls-port', '0',
      '--tls-cert', join(live, 'server.pem'), '--tls-key', join(live, 'server.key')]);
    try {
      const rawTls = await rawPort(s2, 'tcp+tls');
      const wss = Number(/wss:\/\/127\.0\.0\.1:(\d+)/.exec(s2.stdout())[1]);
      const caB = readFileSync(join(other, 'ca.pem'));
      copyFileSync(join(other, 'server.pem'), join(live, 'server.pem'));
      copyFileSync(join(other, 'server.key'), join(live, 'server.key'));
      s2.proc.kill('SIGHUP');
      await waitFor(() => (s2.stderr().match(/certificate reloaded/g) ?? []).length >= 2, 5000,
        'both vhosts to reload');
      for (const p of [rawTls, wss]) {
        const c = await Raw.open(p, { secure: true, ca: caB }); // the new certificate
        c.destroy();
        await assert.rejects(Raw.open(p, { secure: true, ca }), /certificate/);
      }
    } finally {
      assert.equal((await s2.stop()).code, 0, s2.stderr());
    }
  });

  test('NDJSON and RESP over TLS on raw_tls_port', async () => {
    const c = await Raw.open(tlsPort, { secure: true, ca });
    c.send('{"cmd":"add","args":{"x":2,"y":2},"id":1}\n');
    assert.equal((await c.json()).data, 4);
    c.destroy();
    const r = await Raw.open(tlsPort, { secure: true, ca });
    r.send(respCmd('ping'));
    assert.equal(await r.read((b) => resp(b)), 'PONG');
    r.destroy();
  });
});
