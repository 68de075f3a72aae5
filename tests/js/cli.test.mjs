// SPDX-License-Identifier: MIT
// wsrouter-cli as a user runs it (env WSR_CLI): one-shot requests with their
// outputs and exit statuses, the encodings and the token on the wire (seen by
// a small `ws` server), an interactive session on a pseudo-terminal driven
// through tmux, and login (the password without echo on a terminal, from
// stdin otherwise; the token kept across reconnections) and --token-file. Every wait is bounded. Every wsrouterd is stopped with SIGTERM
// and must exit 0, so sanitizer reports in the server fail the suite.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, readFileSync, rmSync, existsSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { startServer, connect, freePort } from './harness.mjs';

const CLI = process.env.WSR_CLI ?? new URL('../../build/wsrouter-cli', import.meta.url).pathname;

// The CLI keeps its history under $HOME (XDG): every CLI of this suite, and
// the tmux servers that start them, get a home of their own.
const HOME = mkdtempSync(join(tmpdir(), 'wsr-cli-home-'));
process.env.HOME = HOME;
delete process.env.XDG_STATE_HOME;
const SRC = process.env.WSR_SOURCE_DIR ?? new URL('../..', import.meta.url).pathname;

/** Runs the CLI; resolves with { code, stdout, stderr } (never rejects). */
function cli(args, { input, timeout = 15000 } = {}) {
  return new Promise((resolve) => {
    const child = execFile(CLI, args, { encoding: 'utf8', timeout }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? -1) : 0, stdout, stderr });
    });
    // A program that exits before reading its input makes the write fail
    // with EPIPE (Node 18 reports it more often): that is no test failure.
    child.stdin.on('error', () => {});
    if (input !== undefined) child.stdin.end(input);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** `promise`, or a failure naming `what` after `ms`. */
function withDeadline(promise, what, ms = 10000) {
  let timer;
  const late = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms); });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

let srv;
let url;

before(async () => {
  srv = await startServer(['--modules', 'all']);
  url = `${srv.url}/`;
});

/** Stops `s` with SIGTERM and fails unless it exited 0. */
async function stopClean(s) {
  const { code, signal } = await s.stop();
  assert.equal(code, 0, `wsrouterd exited with ${code ?? signal}:\n${s.stderr()}`);
}

after(async () => {
  await stopClean(srv);
  rmSync(HOME, { recursive: true, force: true });
});

describe('one shot', () => {
  test('GET prints the data as compact JSON when piped, exit 0', async () => {
    const r = await cli(['-u', url, 'GET', '/hello/bob/42']);
    assert.deepEqual(r, { code: 0, stdout: '"Hello, bob with ID=42"\n', stderr: '' });
  });

  test('POST with -d sends the data', async () => {
    const r = await cli(['-u', url, 'POST', '/echo', '-d', '{"a": 1, "b": [1, 2, {"c": null}], "e": {}}']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, '{"a":1,"b":[1,2,{"c":null}],"e":{}}\n');
  });

  test('call NAME key=value: values are JSON when they parse, else strings', async () => {
    let r = await cli(['-u', url, 'call', 'add', 'x=1', 'y=2']);
    assert.equal(r.stdout, '3\n');
    r = await cli(['-u', url, 'call', 'add', 'x=1', 'y=2.5']);
    assert.equal(r.stdout, '3.5\n');
    r = await cli(['-u', url, 'call', 'sum', 'digits=[1,2,3]']);
    assert.equal(r.stdout, '{"sum":6}\n');
    r = await cli(['-u', url, 'call', 'help', 'command=ping']);
    assert.equal(r.code, 0);
    assert.equal(JSON.parse(r.stdout).name, 'ping');
  });

  test('-a key=value adds args to a METHOD PATH request', async () => {
    const r = await cli(['-u', url, '-a', 'x=40', '-a', 'y=2', 'GET', '/math/add']);
    assert.equal(r.stdout, '42\n');
  });

  test('--raw prints the whole reply', async () => {
    const r = await cli(['-u', url, '--raw', 'call', 'add', 'x=1', 'y=2']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^\{"status":200,"data":3,"id":"wsr-[0-9a-f]{8}-1","event_name":null\}\n$/);
  });

  test('404: exit 1, the detail on stderr, nothing on stdout', async () => {
    const r = await cli(['-u', url, 'GET', '/nope']);
    assert.deepEqual(r, { code: 1, stdout: '', stderr: 'wsrouter-cli: 404 no route for /nope\n' });
  });

  test('422: exit 1 with the detail and every invalid parameter', async () => {
    const r = await cli(['-u', url, 'call', 'add', 'x=one']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr,
      'wsrouter-cli: 422 invalid parameters: x, y\n  x: must be a number\n  y: is required\n');
  });

  test('405 and 500 exit 1', async () => {
    let r = await cli(['-u', url, 'DELETE', '/counters/a']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'wsrouter-cli: 405 method DELETE is not allowed on /counters/{key}\n');
    r = await cli(['-u', url, 'call', 'fail']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'wsrouter-cli: 500 the handler failed; see the server log\n');
  });

  test('connection refused: exit 2 with a sentence on stderr', async () => {
    const port = await freePort();
    const r = await cli(['-u', `ws://127.0.0.1:${port}/`, 'GET', '/hello']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`^wsrouter-cli: cannot connect to ws://127\\.0\\.0\\.1:${port}/: .+\\n$`));
  });

  test('--timeout bounds the call: exit 2', async () => {
    const t0 = Date.now();
    const r = await cli(['-u', url, '--timeout', '0.3', 'call', 'later', 'ms=3000']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'wsrouter-cli: no reply to cmd later within 300 ms (call #1)\n');
    assert.ok(Date.now() - t0 < 2500, `took ${Date.now() - t0} ms`);
  });

  test('--base64 and --binary get the same answers', async () => {
    for (const flag of ['--base64', '--binary']) {
      let r = await cli(['-u', url, flag, 'GET', '/hello/bob/42']);
      assert.equal(r.stdout, '"Hello, bob with ID=42"\n', flag);
      r = await cli(['-u', url, flag, 'GET', '/nope']);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, 'wsrouter-cli: 404 no route for /nope\n');
    }
  });

  test('an unknown option is one line and a hint; --version; WSROUTER_URL is the default URL', async () => {
    let r = await cli(['--colour', 'GET', '/hello/bob/42']);
    assert.deepEqual(r, { code: 2, stdout: '', stderr: "wsrouter-cli: unknown option '--colour'\nTry 'wsrouter-cli --help' for the options.\n" });
    r = await cli(['-u']);
    assert.deepEqual(r, { code: 2, stdout: '', stderr: "wsrouter-cli: option '-u' needs a value\nTry 'wsrouter-cli --help' for the options.\n" });
    r = await cli(['--version']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^wsrouter-cli \d+\.\d+\.\d+\S* \(protocol v1\)\n$/);
    const withEnv = (env, args) => new Promise((resolve) => {
      execFile(CLI, args, { encoding: 'utf8', timeout: 15000, env: { ...process.env, ...env } }, (err, stdout, stderr) =>
        resolve({ code: err ? (err.code ?? -1) : 0, stdout, stderr }));
    });
    r = await withEnv({ WSROUTER_URL: url }, ['GET', '/hello/bob/42']);
    assert.deepEqual(r, { code: 0, stdout: '"Hello, bob with ID=42"\n', stderr: '' });
    // -u wins over it.
    r = await withEnv({ WSROUTER_URL: `ws://127.0.0.1:${await freePort()}/` }, ['-u', url, 'GET', '/hello/bob/42']);
    assert.equal(r.code, 0, r.stderr);
  });

  test('usage: --help exits 0, a bad request exits 2', async () => {
    let r = await cli(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^usage: wsrouter-cli /);
    assert.match(r.stdout, /--insecure/);
    assert.match(r.stdout, /-f, --field NAME/);
    r = await cli(['-u', url, 'FETCH']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /expected METHOD PATH or call NAME/);
    r = await cli(['-u', url, '--timeout', 'soon', 'GET', '/hello']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'wsrouter-cli: --timeout needs seconds, more than 0 and at most 86400\n');
    r = await cli(['-u', url, '--timeout', '0', 'GET', '/hello']);
    assert.equal(r.code, 2);
    r = await cli(['-u', 'http://127.0.0.1/', 'GET', '/hello']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /must start with ws:\/\/ or wss:\/\//);
  });

  test('-f NAME prints one member of the data: a string raw, anything else as JSON', async () => {
    const body = '{"token":"eyJ.a b.c","n":3,"o":{"k":[1,null]},"s":"x\\"y"}';
    let r = await cli(['-u', url, '-f', 'token', 'POST', '/echo', '-d', body]);
    assert.deepEqual(r, { code: 0, stdout: 'eyJ.a b.c\n', stderr: '' });
    r = await cli(['-u', url, '--field', 'n', 'POST', '/echo', '-d', body]);
    assert.deepEqual(r, { code: 0, stdout: '3\n', stderr: '' });
    r = await cli(['-u', url, '--field', 'o', 'POST', '/echo', '-d', body]);
    assert.equal(r.stdout, '{"k":[1,null]}\n');
    r = await cli(['-u', url, '-f', 's', 'POST', '/echo', '-d', body]);
    assert.equal(r.stdout, 'x"y\n');
    // The README's login line, in its shape: TOKEN=$(wsrouter-cli -f token ...).
    const out = execFileSync('sh', ['-c', `T=$('${CLI}' -u ${url} -f token POST /echo -d '{"token":"abc"}') && printf '[%s]' "$T"`], { encoding: 'utf8' });
    assert.equal(out, '[abc]');
  });

  test('-f NAME: a missing member, or data that is no object, exits 1 with a sentence', async () => {
    let r = await cli(['-u', url, '-f', 'nope', 'POST', '/echo', '-d', '{"a":1}']);
    assert.deepEqual(r, { code: 1, stdout: '', stderr: 'wsrouter-cli: the reply\'s data has no member "nope"\n' });
    r = await cli(['-u', url, '-f', 'a', 'GET', '/hello']);
    assert.deepEqual(r, { code: 1, stdout: '', stderr: 'wsrouter-cli: the reply\'s data has no member "a" (it is not an object)\n' });
    // An error status is reported as usual.
    r = await cli(['-u', url, '-f', 'a', 'GET', '/nope']);
    assert.deepEqual(r, { code: 1, stdout: '', stderr: 'wsrouter-cli: 404 no route for /nope\n' });
    r = await cli(['-u', url, '-f', 'a', '--raw', 'GET', '/hello']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'wsrouter-cli: --raw and --field cannot be used together\n');
    r = await cli(['-u', url, '-f', 'a'], { input: '' });
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'wsrouter-cli: --field needs a request on the command line\n');
  });

  test('TLS options need a wss:// URL', async () => {
    const r = await cli(['-u', url, '--insecure', 'GET', '/hello']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'wsrouter-cli: TLS options need a wss:// URL\n');
  });
});

describe('wss://', () => {
  let s;
  let dir;
  let port;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wsr-cli-certs-'));
    execFileSync('sh', [join(SRC, 'certs', 'mkcerts.sh'), dir]);
    s = await startServer(['--modules', 'all', '--tls-port', '0', '--tls-cert', join(dir, 'server.pem'),
      '--tls-key', join(dir, 'server.key'), '--tls-client-ca', join(dir, 'ca.pem'), '--tls-client-auth', 'optional']);
    port = Number(/listening on wss:\/\/\S+?:(\d+)\//.exec(s.stdout())[1]);
  });

  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await stopClean(s);
  });

  test('--cacert verifies the server; --cert and --key present a client certificate', async () => {
    let r = await cli(['-u', `wss://localhost:${port}/`, '--cacert', join(dir, 'ca.pem'), 'GET', '/hello']);
    assert.deepEqual(r, { code: 0, stdout: '"Hello, world!"\n', stderr: '' });
    r = await cli(['-u', `wss://127.0.0.1:${port}/`, '--cacert', join(dir, 'ca.pem'),
      '--cert', join(dir, 'client.pem'), '--key', join(dir, 'client.key'), 'call', 'whoami']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).cert_subject, 'O=wsrouter,CN=wsrouter test client');
  });

  test('a server certificate from an unknown CA: exit 2 with the reason', async () => {
    const r = await cli(['-u', `wss://localhost:${port}/`, '--cacert', join(dir, 'other-ca.pem'), 'GET', '/hello']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `wsrouter-cli: cannot connect to wss://localhost:${port}/: the server's certificate was refused: self-signed certificate in certificate chain\n`);
  });

  test('--insecure connects anyway and warns on stderr', async () => {
    const r = await cli(['-u', `wss://localhost:${port}/`, '--insecure', 'GET', '/hello']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, '"Hello, world!"\n');
    assert.match(r.stderr, /^wsrouter-cli: WARNING: TLS certificate and host name checks are OFF for wss:\/\/localhost:\d+\/ \(insecure mode\)/);
  });
});

describe('on the wire', () => {
  let wss;
  let frames;
  let fakeUrl;

  before(async () => {
    frames = [];
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    fakeUrl = `ws://127.0.0.1:${wss.address().port}/`;
    wss.on('connection', (ws) => {
      ws.on('message', (data, isBinary) => {
        const text = data.toString();
        const b64 = isBinary || !text.trimStart().startsWith('{');
        const req = JSON.parse(b64 ? Buffer.from(text, 'base64').toString() : text);
        frames.push({ isBinary, b64, req, protocol: ws.protocol });
        const reply = JSON.stringify({ status: 200, data: { ok: true }, id: req.id, event_name: null });
        ws.send(b64 ? Buffer.from(reply).toString('base64') : reply, { binary: isBinary });
      });
    });
  });

  after(async () => {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
  });

  test('JSON text by default, subprotocol wsrouter.v1, token member', async () => {
    const r = await cli(['-u', fakeUrl, '--token', 'T0K', 'call', 'add', 'x=1']);
    assert.equal(r.stdout, '{"ok":true}\n');
    const f = frames.pop();
    assert.equal(f.isBinary, false);
    assert.equal(f.b64, false);
    assert.equal(f.protocol, 'wsrouter.v1');
    assert.match(f.req.id, /^wsr-[0-9a-f]{8}-1$/);
    assert.deepEqual(f.req, { cmd: 'add', args: { x: 1 }, id: f.req.id, token: 'T0K' });
  });

  test('--base64 sends base64 text frames, --binary binary frames', async () => {
    let r = await cli(['-u', fakeUrl, '--base64', 'GET', '/x']);
    assert.equal(r.stdout, '{"ok":true}\n');
    let f = frames.pop();
    assert.equal(f.isBinary, false);
    assert.equal(f.b64, true);
    assert.match(f.req.id, /^wsr-[0-9a-f]{8}-1$/);
    assert.deepEqual(f.req, { method: 'GET', url: '/x', id: f.req.id });
    r = await cli(['-u', fakeUrl, '--binary', 'POST', '/y', '-d', '[1]']);
    assert.equal(r.stdout, '{"ok":true}\n');
    f = frames.pop();
    assert.equal(f.isBinary, true);
    assert.deepEqual(f.req, { method: 'POST', url: '/y', data: [1], id: f.req.id });
  });
});

describe('--compress', () => {
  let csrv;

  before(async () => {
    csrv = await startServer(['--modules', 'all', '--set', 'compression=true']);
  });

  after(async () => {
    await stopClean(csrv);
  });

  test('negotiated with a server with compression on: a large reply and a large request whole', async () => {
    let r = await cli(['-u', `${csrv.url}/`, '--compress', '-v', 'GET', '/diag/big', 'bytes=300000']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `"${'x'.repeat(300000)}"\n`);
    assert.match(r.stderr, /permessage-deflate negotiated/);
    // Text that compresses poorly, both ways (the server's reply is over compression_min_bytes).
    let x = 7;
    const text = Array.from({ length: 100000 }, () => String.fromCharCode(97 + ((x = (x * 1103515245 + 12345) >>> 0) >>> 16) % 26)).join('');
    r = await cli(['-u', `${csrv.url}/`, '--compress', 'POST', '/echo', '-d', JSON.stringify({ text })]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { text });
    // Without --compress nothing is offered.
    r = await cli(['-u', `${csrv.url}/`, '-v', 'GET', '/diag/big', 'bytes=5000']);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /permessage-deflate/);
  });

  test('with a server without compression the frames stay plain', async () => {
    const r = await cli(['-u', url, '--compress', '-v', 'GET', '/diag/big', 'bytes=5000']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `"${'x'.repeat(5000)}"\n`);
    assert.match(r.stderr, /permessage-deflate not accepted by the server/);
  });

  // wsrouterd's replies always end in a few rare literals (`"}`, `null}`), so
  // none makes libwebsockets 4.1.6's client inflater abort; a run of one
  // letter compressed by Node's zlib does (src/core/deflate.c). This server
  // answers every request with such runs first, of growing lengths: the
  // first that would abort the CLI ends its connection instead, with an
  // error and exit 2, not SIGABRT.
  test('a compressed message libwebsockets would abort on ends the connection with an error', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: { threshold: 0 } });
    await once(wss, 'listening');
    let extensions = '';
    wss.on('connection', (ws, req) => {
      extensions = req.headers['sec-websocket-extensions'] ?? '';
      ws.on('message', (data) => {
        const { id } = JSON.parse(data.toString());
        for (let n = 1000; n < 61000; n += 3) ws.send('z'.repeat(n));
        ws.send(JSON.stringify({ status: 200, data: 'survived', id, event_name: null }));
      });
    });
    try {
      const r = await cli(['-u', `ws://127.0.0.1:${wss.address().port}/`, '--compress', 'GET', '/x'], { timeout: 60000 });
      assert.match(extensions, /^permessage-deflate; client_no_context_takeover; server_no_context_takeover/);
      assert.equal(r.code, 2, `exit ${r.code}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /the server sent a compressed message that libwebsockets 4\.1\.6 cannot inflate/);
    } finally {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    }
  });
});

describe('interactive without a terminal', () => {
  test('reads lines from stdin and answers each like retopy', async () => {
    const r = await cli(['-u', url], { input: 'increment p\nincrement p\nget p\nrem p\nget p\nnosuch 1\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '1\n2\n2\n+OK\n-ERR 404 counter p not found\n-ERR 404 no command named nosuch\n');
  });

  test("the words after a command's parameters are its body: publish TOPIC DATA is one line", async () => {
    const r = await cli(['-u', url], { input: 'subscribe cli-body\npublish cli-body hello world\npublish cli-body {"a":[1,2]}\nget x y\n' });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0], /^\{"subscribed":"cli-body","offset":0,"epoch":"[0-9a-f]+"\}$/);
    assert.deepEqual(lines.slice(1), [
      '[publish cli-body] "hello world"', '{"delivered":1}',
      '[publish cli-body] {"a":[1,2]}', '{"delivered":1}',
      // A command without a body (GET only) still says what it takes.
      '-ERR too many arguments: get takes 1',
    ]);
  });

  test('a line over 8191 bytes is refused whole: no part of it runs', async () => {
    const long = `set lq ${'a'.repeat(8185)}increment lq`;
    const exact = `${' '.repeat(8191 - 12)}increment lz`; // 8191 bytes: the longest line taken
    assert.equal(exact.length, 8191);
    const r = await cli(['-u', url], { input: `${long}\nget lq\n${exact}\nincrement lq\n${'c'.repeat(20000)}` });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, [
      '-ERR line too long (max 8191 bytes)',
      '-ERR 404 counter lq not found',
      '1',
      '1',
      '-ERR line too long (max 8191 bytes)',
      '',
    ].join('\n'));
  });
});

describe('interactive session without a terminal, server not reachable', () => {
  test('commands piped in: exit 2 with the reason at once, nothing run', async () => {
    const port = await freePort();
    const r = await cli(['-u', `ws://127.0.0.1:${port}/`], { input: 'ping\n' });
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`^wsrouter-cli: cannot connect to ws://127\\.0\\.0\\.1:${port}/: [^\\n]+\\n$`));
  });
});

describe('interactive session across a server restart', () => {
  test('after a reconnection it says so and subscribes to its topics again', async () => {
    let s = await startServer(['--modules', 'all']);
    const child = spawn(CLI, ['-u', `${s.url}/`], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const exited = once(child, 'exit');
    const until = async (what, pred, ms = 10000) => {
      const deadline = Date.now() + ms;
      while (!pred()) {
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; stdout:\n${out}\nstderr:\n${err}`);
        await sleep(20);
      }
    };
    try {
      child.stdin.write('subscribe chat\nsubscribe news\nunsubscribe news\n');
      await until('the subscriptions', () => out.includes('{"unsubscribed":"news"}\n'));
      // The same port, a new server: the old connection and its subscriptions are gone.
      await stopClean(s);
      await until('the drop', () => /^-- the server closed the connection/m.test(out));
      s = await startServer(['--modules', 'all', '--port', String(s.port)]);
      // A new server has a new epoch: what was published meanwhile cannot be recovered.
      await until('the re-subscription', () => out.includes('-- resubscribed chat (not recovered: reload)\n'));
      assert.match(out, new RegExp(`^-- reconnected to ws://127\\.0\\.0\\.1:${s.port}/$`, 'm'));
      assert.ok(!out.includes('resubscribed news'), out);
      const other = await connect(s.url);
      const pub = await other.request({ method: 'POST', url: '/_/publish', args: { topic: 'chat' }, data: { text: 'hi' } });
      assert.equal(pub.status, 200);
      await other.close();
      await until('the publication', () => out.includes('[publish chat] {"text":"hi"}\n'));
      child.stdin.end('quit\n');
      const [code] = await exited;
      assert.equal(code, 0, err);
    } finally {
      child.kill();
      await stopClean(s);
    }
  });
});

describe('streamed calls, input and Ctrl-C', () => {
  /** Spawns the CLI with `args`; `until` waits for its output to match. */
  function spawnCli(args) {
    const child = spawn(CLI, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const io = { child, out: '', err: '', exited: once(child, 'exit') };
    child.stdout.on('data', (d) => { io.out += d; });
    child.stderr.on('data', (d) => { io.err += d; });
    child.stdin.on('error', () => {});
    io.until = async (what, pred, ms = 10000) => {
      const deadline = Date.now() + ms;
      while (!pred()) {
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; stdout:\n${io.out}\nstderr:\n${io.err}`);
        await sleep(20);
      }
    };
    return io;
  }

  test('one shot: each progress message is a line of its own before the data', async () => {
    let r = await cli(['-u', url, 'call', 'count', 'n=4']);
    assert.deepEqual(r, { code: 0, stdout: '{"i":1}\n{"i":2}\n{"i":3}\n{"i":4}\n{"count":4}\n', stderr: '' });
    // --raw: the whole messages, progress and reply.
    r = await cli(['-u', url, '--raw', 'call', 'ticker', 'n=2', 'ms=5']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((m) => m.progress ?? m.data), [{ tick: 1 }, { tick: 2 }, { ticks: 2 }]);
    assert.equal(new Set(lines.map((m) => m.id)).size, 1);
  });

  test('a session prints progress lines, and lines "> VALUE" are input to the running call', async () => {
    const r = await cli(['-u', url], {
      input: '> early\nticker n=3 ms=10\nconverse\n> "hi"\n> {"n":2}\n> bye\nping\n',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, [
      "-ERR no call is running: a line '> VALUE' sends input to the call in flight",
      '[progress] {"tick":1}', '[progress] {"tick":2}', '[progress] {"tick":3}', '{"ticks":3}',
      '[progress] {"turn":1,"echo":"hi"}', '[progress] {"turn":2,"echo":{"n":2}}', '{"turns":3}',
      'PONG', '',
    ].join('\n'));
  });

  test('Ctrl-C cancels the running call (499, nothing after), the session goes on; at the prompt it ends', async () => {
    const io = spawnCli(['-u', url]);
    try {
      io.child.stdin.write('count n=100000 ms=5\n');
      await io.until('progress', () => io.out.includes('[progress] {"i":3}\n'));
      io.child.kill('SIGINT');
      await io.until('the 499', () => io.out.includes('-ERR 499 the call was cancelled by the client\n'));
      assert.match(io.out, /^-- cancelling the call \(Ctrl-C again to quit\)$/m);
      await sleep(300);
      const after = io.out.slice(io.out.indexOf('-ERR 499 the call was cancelled'));
      assert.equal(after, '-ERR 499 the call was cancelled by the client\n', 'nothing of the call after its 499');
      io.child.stdin.write('ping\n');
      await io.until('the next reply', () => io.out.endsWith('-ERR 499 the call was cancelled by the client\nPONG\n'));
      // At the prompt, Ctrl-C ends the session as it always did.
      io.child.kill('SIGINT');
      const [code, signal] = await io.exited;
      assert.deepEqual([code, signal], [null, 'SIGINT'], io.err);
    } finally {
      io.child.kill('SIGKILL');
    }
  });

  test('a second Ctrl-C while the cancel is on its way ends the program', async () => {
    // A server that answers `commands` and nothing else: the call and its cancel hang.
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    const seen = [];
    wss.on('connection', (ws) => {
      ws.on('message', (data) => {
        const req = JSON.parse(data.toString());
        seen.push(req);
        if (req.cmd === 'commands') ws.send(JSON.stringify({ status: 200, data: [], id: req.id, event_name: null }));
      });
    });
    const io = spawnCli(['-u', `ws://127.0.0.1:${wss.address().port}/`]);
    try {
      io.child.stdin.write('hang\n');
      await io.until('the call', () => seen.some((r) => r.cmd === 'hang'));
      io.child.kill('SIGINT');
      await io.until('the cancel', () => seen.some((r) => r.cmd === 'cancel'));
      const call = seen.find((r) => r.cmd === 'hang');
      assert.deepEqual(seen.find((r) => r.cmd === 'cancel').args, { id: call.id });
      assert.match(io.out, /^-- cancelling the call \(Ctrl-C again to quit\)$/m);
      io.child.kill('SIGINT');
      const [code, signal] = await io.exited;
      assert.deepEqual([code, signal], [null, 'SIGINT'], io.out + io.err);
    } finally {
      io.child.kill('SIGKILL');
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    }
  });

  test('progress already on its way when the cancel is sent is not shown after "-- cancelling"', async () => {
    // A server that sends the call one progress message, and another one after the cancel
    // reached it (as a real server's next one may cross the cancel on the wire), then the 499.
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    let callId;
    wss.on('connection', (ws) => {
      ws.on('message', (data) => {
        const req = JSON.parse(data.toString());
        const answer = (m) => ws.send(JSON.stringify(m));
        if (req.cmd === 'commands') answer({ status: 200, data: [], id: req.id, event_name: null });
        if (req.cmd === 'slow') {
          callId = req.id;
          answer({ id: req.id, progress: { i: 1 }, event_name: null });
        }
        if (req.cmd === 'cancel') {
          answer({ id: callId, progress: { i: 2 }, event_name: null });
          answer({ status: 200, data: { cancelled: true }, id: req.id, event_name: null });
          answer({ status: 499, detail: 'the call was cancelled by the client', id: callId, event_name: null });
        }
      });
    });
    const io = spawnCli(['-u', `ws://127.0.0.1:${wss.address().port}/`]);
    try {
      io.child.stdin.write('slow\n');
      await io.until('progress', () => io.out.includes('[progress] {"i":1}\n'));
      io.child.kill('SIGINT');
      await io.until('the 499', () => io.out.includes('-ERR 499 the call was cancelled by the client\n'));
      assert.equal(io.out, '[progress] {"i":1}\n-- cancelling the call (Ctrl-C again to quit)\n' +
        '-ERR 499 the call was cancelled by the client\n');
    } finally {
      io.child.kill('SIGKILL');
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    }
  });

  test('one shot: Ctrl-C cancels the call and exits 1 with the 499', async () => {
    const io = spawnCli(['-u', url, 'call', 'count', 'n=100000', 'ms=5']);
    try {
      await io.until('progress', () => io.out.includes('{"i":2}\n'));
      io.child.kill('SIGINT');
      const [code] = await io.exited;
      assert.equal(code, 1, io.err);
      assert.equal(io.err, '-- cancelling the call (Ctrl-C again to quit)\nwsrouter-cli: 499 the call was cancelled by the client\n');
      assert.ok(!io.out.includes('"count"'), io.out);
    } finally {
      io.child.kill('SIGKILL');
    }
  });
});

describe('interactive session in tmux', () => {
  const sock = `wsr-cli-${process.pid}`;
  const session = 'cli';
  const PROMPT = 'wsrouter> ';
  let dir;
  let s;
  const tmux = (...args) => execFileSync('tmux', ['-L', sock, '-f', '/dev/null', ...args], { encoding: 'utf8' });
  const pane = () => tmux('capture-pane', '-p', '-J', '-S', '-', '-t', session).split('\n').map((l) => l.trimEnd());

  /** Polls `fn` every 50 ms until it returns a value other than undefined. */
  async function poll(fn, what, ms = 5000) {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = fn();
      if (v !== undefined) return v;
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; the pane:\n${pane().join('\n')}`);
      await sleep(50);
    }
  }

  const echoes = (lines) => lines.filter((l) => l.startsWith(PROMPT) && l.length > PROMPT.length);

  /**
   * Types keys (the last one Enter), then returns the lines printed between the
   * echo of the line being edited and the next prompt.
   */
  async function exchange(keys, expectEcho) {
    const now = pane();
    let current = now.length - 1;
    while (current > 0 && !now[current].startsWith(PROMPT.trimEnd())) current--;
    const before = echoes(now.slice(0, current)).length;
    for (const k of keys) tmux('send-keys', '-t', session, ...k);
    return poll(() => {
      const lines = pane();
      const idx = lines.map((l, i) => (l.startsWith(PROMPT) && l.length > PROMPT.length ? i : -1)).filter((i) => i >= 0);
      if (idx.length <= before) return undefined;
      const i = idx[before];
      const j = lines.findIndex((l, k) => k > i && l.startsWith(PROMPT.trimEnd()));
      if (j < 0) return undefined;
      if (expectEcho !== undefined) assert.equal(lines[i], PROMPT + expectEcho);
      return lines.slice(i + 1, j);
    }, `the answer to ${JSON.stringify(keys)}`);
  }

  const line = (text) => exchange([['-l', text], ['Enter']], text);

  before(async () => {
    s = await startServer(['--modules', 'all']);
    dir = mkdtempSync(join(tmpdir(), 'wsr-cli-'));
    const cmd = `'${CLI}' -u ${s.url}/; echo $? > '${join(dir, 'exit')}'`;
    tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '40', cmd);
    await poll(() => (pane().some((l) => l.startsWith(PROMPT.trimEnd())) ? true : undefined), 'the prompt');
  });

  after(async () => {
    try {
      tmux('kill-server');
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
    await stopClean(s);
  });

  test('the retopy telnet sequence', async () => {
    assert.deepEqual(await line('increment a'), ['1']);
    assert.deepEqual(await line('increment a'), ['2']);
    assert.deepEqual(await line('increment b'), ['1']);
    assert.deepEqual(await line('increment a'), ['3']);
    assert.deepEqual(await line('rem a'), ['+OK']);
    assert.deepEqual(await line('get a'), ['-ERR 404 counter a not found']);
    assert.deepEqual(await line('set a 5'), ['5']);
    assert.deepEqual(await line('set a five'), ['-ERR 422 invalid parameter value: must be an integer']);
    assert.deepEqual(await line('GET /hello/bob/42'), ['Hello, bob with ID=42']);
    assert.deepEqual(await line('POST /echo {"x": [1, 2]}'), ['{"x":[1,2]}']);
  });

  test('help lists the server\'s commands; help NAME shows one', async () => {
    const all = await line('help');
    assert.ok(all.some((l) => /^increment key +Add one to the counter/.test(l)), all.join('\n'));
    assert.ok(all.some((l) => /^add x y +Add x and y/.test(l)));
    assert.ok(all.some((l) => /^later \[ms\] +Answer after ms/.test(l)));
    const one = await line('help set');
    assert.match(one[0], /^set key value +Set the counter to an integer value/);
    assert.deepEqual(one.slice(1), ['  url: /counters/{key}', '  key: string, required', '  value: int, required']);
    assert.deepEqual(await line('help nosuch'), ['-ERR no command named nosuch']);
  });

  test('the Up arrow recalls history', async () => {
    assert.deepEqual(await line('increment h'), ['1']);
    assert.deepEqual(await line('get h'), ['1']);
    // Up twice: "increment h" again.
    assert.deepEqual(await exchange([['Up'], ['Up'], ['Enter']], 'increment h'), ['2']);
  });

  test('pushes are printed as they arrive, also at the prompt', async () => {
    assert.deepEqual(await line('push 2 tick'), ['[tick] {"seq":0,"data":null}', '[tick] {"seq":1,"data":null}', '{"pushed":2}']);
    const subscribed = await line('subscribe counters');
    assert.equal(subscribed.length, 1);
    assert.match(subscribed[0], /^\{"subscribed":"counters","offset":\d+,"epoch":"[0-9a-f]{12}"\}$/);
    // Half a line typed, then a publication arrives from another client.
    tmux('send-keys', '-t', session, '-l', 'get ');
    await poll(() => (pane().at(-1) === '' && pane().includes(`${PROMPT}get`) ? true : undefined), 'the typed text');
    const other = await connect(s.url);
    assert.equal((await other.request({ cmd: 'increment', args: { key: 'zz' } })).data, 1);
    await other.close();
    await poll(() => (pane().includes('[publish counters] {"key":"zz","value":1}') ? true : undefined), 'the publication');
    // The prompt and the typed text are redrawn below it, and the line still works.
    const lines = pane();
    const at = lines.indexOf('[publish counters] {"key":"zz","value":1}');
    assert.equal(lines[at + 1], `${PROMPT}get`);
    assert.deepEqual(await exchange([['-l', 'zz'], ['Enter']], 'get zz'), ['1']);
  });

  test('a call\'s input is typed at its "> " prompt; Ctrl-C cancels the call and the session goes on', async () => {
    const type = (text) => {
      tmux('send-keys', '-t', session, '-l', text);
      tmux('send-keys', '-t', session, 'Enter');
    };
    const shown = (text) => poll(() => (pane().includes(text) ? true : undefined), text);
    type('converse');
    await poll(() => (pane().filter((l) => l !== '').at(-1) === '>' ? true : undefined), 'the input prompt');
    type('hello');
    await shown('[progress] {"turn":1,"echo":"hello"}');
    type('bye');
    await shown('{"turns":2}');
    let lines = pane();
    assert.deepEqual(lines.slice(lines.indexOf(`${PROMPT}converse`) + 1, lines.indexOf('{"turns":2}') + 2),
      ['> hello', '[progress] {"turn":1,"echo":"hello"}', '> bye', '{"turns":2}', PROMPT.trimEnd()]);
    type('count n=1000000 ms=10');
    await shown('[progress] {"i":3}');
    tmux('send-keys', '-t', session, 'C-c');
    await shown('-ERR 499 the call was cancelled by the client');
    lines = pane();
    const at = lines.indexOf('-ERR 499 the call was cancelled by the client');
    assert.equal(lines[at - 1], '-- cancelling the call (Ctrl-C again to quit)');
    assert.match(lines[at - 2], /^\[progress\] \{"i":\d+\}$/);
    assert.deepEqual(await line('ping'), ['PONG']);
  });

  test('Ctrl-C at the prompt clears the line being typed: a fresh prompt, the session goes on', async () => {
    tmux('send-keys', '-t', session, '-l', 'increment ctrlc');
    await poll(() => (pane().includes(`${PROMPT}increment ctrlc`) ? true : undefined), 'the typed text');
    tmux('send-keys', '-t', session, 'C-c');
    // The line stays on the screen marked ^C, a fresh prompt below it, and it was not sent.
    await poll(() => {
      const lines = pane().filter((l) => l !== '');
      return lines.at(-2) === `${PROMPT}increment ctrlc^C` && lines.at(-1) === PROMPT.trimEnd() ? true : undefined;
    }, 'the fresh prompt');
    assert.deepEqual(await line('get ctrlc'), ['-ERR 404 counter ctrlc not found']);
    // On an empty line too; the prompt's text typed after it is a new line.
    tmux('send-keys', '-t', session, 'C-c');
    await poll(() => (pane().filter((l) => l !== '').at(-2) === `${PROMPT}^C` ? true : undefined), 'the second fresh prompt');
    assert.deepEqual(await line('ping'), ['PONG']);
  });

  test('Ctrl-C on a call that is not streamed cancels it too', async () => {
    tmux('send-keys', '-t', session, '-l', 'later ms=20000');
    tmux('send-keys', '-t', session, 'Enter');
    await poll(() => (pane().filter((l) => l !== '').at(-1) === '>' ? true : undefined), 'the call to run');
    const t0 = Date.now();
    tmux('send-keys', '-t', session, 'C-c');
    await poll(() => (pane().includes('-ERR 499 the call was cancelled by the client') ? true : undefined), 'the 499');
    assert.ok(Date.now() - t0 < 5000, `the cancel took ${Date.now() - t0} ms`);
    const lines = pane();
    const at = lines.lastIndexOf('-ERR 499 the call was cancelled by the client');
    assert.equal(lines[at - 1], '-- cancelling the call (Ctrl-C again to quit)');
    // The next line is typed at the fresh prompt, once it is there (typed
    // before, its echo was looked for at the call's line: failed once).
    await poll(() => (pane().filter((l) => l !== '').at(-1) === PROMPT.trimEnd() ? true : undefined), 'the prompt after the 499');
    assert.deepEqual(await line('ping'), ['PONG']);
  });

  test('quit exits 0', async () => {
    tmux('send-keys', '-t', session, '-l', 'quit');
    tmux('send-keys', '-t', session, 'Enter');
    const exitFile = join(dir, 'exit');
    await poll(() => (existsSync(exitFile) && readFileSync(exitFile, 'utf8').trim() !== '' ? true : undefined), 'the CLI to exit');
    assert.equal(readFileSync(exitFile, 'utf8').trim(), '0');
  });
});

describe('pretty output on a terminal', () => {
  const sock = `wsr-cli-pretty-${process.pid}`;
  const tmux = (...args) => execFileSync('tmux', ['-L', sock, '-f', '/dev/null', ...args], { encoding: 'utf8' });

  after(() => {
    try {
      tmux('kill-server');
    } catch {
      // already gone
    }
  });

  test('data is indented when stdout is a terminal', async () => {
    const cmd = `'${CLI}' -u ${url} POST /echo -d '{"a":1,"b":[1,{"c":null}],"e":{}}'; echo "exit=$?"; sleep 30`;
    tmux('new-session', '-d', '-s', 'p', '-x', '120', '-y', '40', cmd);
    const deadline = Date.now() + 5000;
    let text = '';
    while (Date.now() < deadline) {
      text = tmux('capture-pane', '-p', '-t', 'p');
      if (text.includes('exit=')) break;
      await sleep(50);
    }
    const lines = text.split('\n').map((l) => l.trimEnd());
    const end = lines.indexOf('exit=0');
    assert.ok(end > 0, text);
    assert.deepEqual(lines.slice(0, end), [
      '{', '  "a": 1,', '  "b": [', '    1,', '    {', '      "c": null', '    }', '  ],', '  "e": {}', '}',
    ]);
  });
});

// ---------------------------------------------------------------------------
describe('a session that is not connected, in tmux', () => {
  const sock = `wsr-cli-offline-${process.pid}`;
  const tmux = (...args) => execFileSync('tmux', ['-L', sock, '-f', '/dev/null', ...args], { encoding: 'utf8' });
  const pane = () => tmux('capture-pane', '-p', '-J', '-S', '-', '-t', 'o').split('\n').map((l) => l.trimEnd());
  const shown = () => pane().filter((l) => l !== '');
  let dir;
  let s = null;

  async function poll(fn, what, ms = 10000) {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = fn();
      if (v !== undefined) return v;
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; the pane:\n${pane().join('\n')}`);
      await sleep(50);
    }
  }
  const type = (text) => {
    tmux('send-keys', '-t', 'o', '-l', text);
    tmux('send-keys', '-t', 'o', 'Enter');
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'wsr-cli-offline-'));
  });

  after(async () => {
    try {
      tmux('kill-server');
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
    if (s) await stopClean(s);
  });

  test('not reachable yet: "not connected> "; the next command connects and says so; a drop shows it again; Ctrl-D leaves', async () => {
    const port = await freePort();
    const u = `ws://127.0.0.1:${port}/`;
    const exitFile = join(dir, 'exit');
    tmux('new-session', '-d', '-s', 'o', '-x', '160', '-y', '40', `'${CLI}' -u ${u}; echo $? > '${exitFile}'; sleep 60`);
    await poll(() => (shown().at(-1) === 'not connected>' ? true : undefined), 'the not-connected prompt');
    assert.match(shown()[0], new RegExp(`^-- cannot connect to ws://127\\.0\\.0\\.1:${port}/: .+ \\(not connected: each command tries again\\)$`));
    // A command while nothing listens: one line why, the prompt stays.
    type('ping');
    await poll(() => (shown().at(-1) === 'not connected>' && shown().at(-2)?.startsWith('-ERR') ? true : undefined), 'the refusal');
    assert.equal(shown().at(-3), 'not connected> ping');
    assert.match(shown().at(-2), new RegExp(`^-ERR not connected: cannot connect to ws://127\\.0\\.0\\.1:${port}/: .+$`));
    // The server comes up: the next command connects, says so in one line, and answers.
    s = await startServer(['--modules', 'all', '--port', String(port)]);
    type('ping');
    await poll(() => (shown().at(-1) === 'wsrouter>' ? true : undefined), 'the normal prompt');
    assert.deepEqual(shown().slice(-4), ['not connected> ping', `-- reconnected to ${u}`, 'PONG', 'wsrouter>']);
    // Tab completion has the server's commands now.
    tmux('send-keys', '-t', 'o', '-l', 'incre');
    tmux('send-keys', '-t', 'o', 'Tab');
    await poll(() => (shown().at(-1) === 'wsrouter> increment' ? true : undefined), 'the completion');
    tmux('send-keys', '-t', 'o', 'C-c');
    await poll(() => (shown().at(-1) === 'wsrouter>' ? true : undefined), 'the cleared line');
    // The server goes away: one line, and the prompt says it, without a key pressed.
    await stopClean(s);
    s = null;
    await poll(() => (shown().at(-1) === 'not connected>' ? true : undefined), 'the prompt after the drop');
    assert.match(shown().at(-2), new RegExp(`^-- the server closed the connection to ws://127\\.0\\.0\\.1:${port}/`));
    // Back again: the prompt returns to normal (by the client's retry or the next command).
    s = await startServer(['--modules', 'all', '--port', String(port)]);
    type('ping');
    await poll(() => (shown().at(-1) === 'wsrouter>' && shown().at(-2) === 'PONG' ? true : undefined), 'the answer after the restart');
    const drop = shown().findLastIndex((l) => l.startsWith('-- the server closed the connection'));
    assert.equal(shown().slice(drop).filter((l) => l === `-- reconnected to ${u}`).length, 1, 'reconnected said once');
    // Ctrl-D on an empty line leaves, exit 0.
    tmux('send-keys', '-t', 'o', 'C-d');
    await poll(() => (existsSync(exitFile) && readFileSync(exitFile, 'utf8').trim() !== '' ? true : undefined), 'the CLI to exit');
    assert.equal(readFileSync(exitFile, 'utf8').trim(), '0');
  });
});

// ---------------------------------------------------------------------------
describe('subscribe TOPIC...', () => {
  /** Spawns the CLI (pipes, no terminal); `until` waits for a condition. */
  function spawnCli(args) {
    const child = spawn(CLI, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const io = { child, out: '', err: '', exited: once(child, 'exit') };
    child.stdout.on('data', (d) => { io.out += d; });
    child.stderr.on('data', (d) => { io.err += d; });
    return io;
  }
  async function until(what, pred, ms = 10000) {
    const deadline = Date.now() + ms;
    while (!(await pred())) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await sleep(20);
    }
  }
  let peer;
  const presence = async (topic) => (await peer.request({ method: 'GET', url: '/_/presence', args: { topic } })).data.count;
  const publish = async (topic, data) => {
    const r = await peer.request({ method: 'POST', url: '/_/publish', args: { topic }, data });
    assert.equal(r.status, 200);
  };

  before(async () => {
    peer = await connect(srv.url);
  });
  after(async () => {
    await peer.close();
  });

  test('--count N: N publications of its topics as JSON lines, then exit 0 and unsubscribed', async () => {
    const io = spawnCli(['-u', url, 'subscribe', 'fa', 'fb', '--count', '3']);
    try {
      await until('the subscriptions', async () => (await presence('fa')) === 1 && (await presence('fb')) === 1);
      await publish('fa', { n: 1 });
      await publish('fz', 'not followed');
      // The CLI itself as the other publisher.
      const r = await cli(['-u', url, 'POST', '/_/publish', '-a', 'topic=fb', '-d', '"two"']);
      assert.deepEqual(r, { code: 0, stdout: '{"delivered":1}\n', stderr: '' });
      await publish('fa', [3]);
      const [code, signal] = await withDeadline(io.exited, 'the exit after 3');
      assert.deepEqual([code, signal], [0, null], io.err);
      assert.equal(io.err, '');
      const lines = io.out.split('\n');
      assert.equal(lines.pop(), '', 'every line ends with a newline');
      const msgs = lines.map((l) => JSON.parse(l));
      assert.deepEqual(msgs.map((m) => [m.event_name, m.topic, m.offset, m.data]),
        [['publish', 'fa', 1, { n: 1 }], ['publish', 'fb', 1, 'two'], ['publish', 'fa', 2, [3]]]);
      assert.ok(msgs.every((m) => /^[0-9a-f]{12}$/.test(m.epoch)), io.out);
      await until('the subscriptions to go', async () => (await presence('fa')) === 0 && (await presence('fb')) === 0);
    } finally {
      io.child.kill('SIGKILL');
    }
  });

  test('each line is flushed as it comes; SIGINT unsubscribes and exits 0', async () => {
    const io = spawnCli(['-u', url, 'subscribe', 'fc']);
    try {
      await until('the subscription', async () => (await presence('fc')) === 1);
      await publish('fc', { first: true });
      // Piped, yet the line is there while the program still runs.
      await until('the first line', () => io.out.endsWith('\n'));
      assert.match(io.out, /^\{"event_name":"publish","topic":"fc","offset":1,"epoch":"[0-9a-f]{12}","data":\{"first":true\}\}\n$/);
      assert.equal(io.child.exitCode, null, 'still following');
      await publish('fc', 2);
      await until('the second line', () => io.out.split('\n').length === 3);
      io.child.kill('SIGINT');
      const [code, signal] = await withDeadline(io.exited, 'the exit after SIGINT');
      assert.deepEqual([code, signal], [0, null], io.err);
      assert.equal(io.err, '');
      assert.deepEqual(io.out.trimEnd().split('\n').map((l) => JSON.parse(l).data), [{ first: true }, 2]);
      await until('the subscription to go', async () => (await presence('fc')) === 0);
    } finally {
      io.child.kill('SIGKILL');
    }
  });

  test('after a server restart it reconnects, says so on stderr, and goes on following', async () => {
    let s = await startServer(['--modules', 'all']);
    const su = `${s.url}/`;
    const io = spawnCli(['-u', su, 'subscribe', 'fr', '--count', '2']);
    let p2 = null;
    const count = async () => (await p2.request({ method: 'GET', url: '/_/presence', args: { topic: 'fr' } })).data.count;
    const pub = async (data) => assert.equal((await p2.request({ method: 'POST', url: '/_/publish', args: { topic: 'fr' }, data })).status, 200);
    try {
      p2 = await connect(s.url);
      await until('the subscription', async () => (await count()) === 1);
      await pub(1);
      await until('the first line', () => io.out.endsWith('\n'));
      await p2.close();
      p2 = null;
      await stopClean(s);
      s = await startServer(['--modules', 'all', '--port', String(s.port)]);
      p2 = await connect(s.url);
      await until('the subscription again', async () => (await count()) === 1);
      await pub(2);
      const [code, signal] = await withDeadline(io.exited, 'the exit after 2');
      assert.deepEqual([code, signal], [0, null], io.err);
      assert.deepEqual(io.out.trimEnd().split('\n').map((l) => JSON.parse(l).data), [1, 2]);
      const port = String(s.port);
      assert.equal(io.err, `-- the server closed the connection to ws://127.0.0.1:${port}/ (1001: server shutting down) (reconnecting)\n` +
        `-- reconnected to ${su}\n-- resubscribed fr (not recovered: publications were missed)\n`);
    } finally {
      io.child.kill('SIGKILL');
      if (p2) await p2.close();
      await stopClean(s);
    }
  });

  test('bad arguments and a refused topic: one line on stderr, a non-zero exit', async () => {
    let r = await cli(['-u', url, 'subscribe']);
    assert.deepEqual(r, { code: 2, stdout: '', stderr: 'wsrouter-cli: subscribe needs at least one topic (subscribe TOPIC...)\n' });
    r = await cli(['-u', url, 'subscribe', 'fd', '--count', '0']);
    assert.deepEqual(r, { code: 2, stdout: '', stderr: 'wsrouter-cli: --count needs a whole number of publications, from 1 to 1000000000 (got "0")\n' });
    r = await cli(['-u', url, 'subscribe', 'fd', '--count', 'ten']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'wsrouter-cli: --count needs a whole number of publications, from 1 to 1000000000 (got "ten")\n');
    r = await cli(['-u', url, '--count', '2', 'GET', '/hello']);
    assert.deepEqual(r, { code: 2, stdout: '', stderr: 'wsrouter-cli: --count goes with subscribe TOPIC...\n' });
    r = await cli(['-u', url, 'subscribe', 'fd', '']);
    assert.deepEqual(r, { code: 2, stdout: '', stderr: 'wsrouter-cli: subscribe: a topic cannot be empty\n' });
    r = await cli(['-u', url, '-f', 'x', 'subscribe', 'fd']);
    assert.deepEqual(r, { code: 2, stdout: '', stderr: 'wsrouter-cli: subscribe takes no --data, --arg, --field or --raw\n' });
    // The server refuses a topic of 201 bytes: its status and detail, exit 1.
    const long = 'x'.repeat(201);
    r = await cli(['-u', url, 'subscribe', 'fd', long]);
    assert.deepEqual(r, { code: 1, stdout: '', stderr: `wsrouter-cli: subscribe ${long}: 422 invalid parameter topic: must be 1 to 200 bytes\n` });
    await until('no subscription left behind', async () => (await presence('fd')) === 0);
    // Nothing listening: exit 2 with the reason.
    const port = await freePort();
    r = await cli(['-u', `ws://127.0.0.1:${port}/`, 'subscribe', 'fd']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`^wsrouter-cli: cannot connect to ws://127\\.0\\.0\\.1:${port}/: [^\\n]+\\n$`));
  });
});

// ---------------------------------------------------------------------------
describe('login and --token-file', () => {
  const WSRD = process.env.WSRD ?? new URL('../../build/wsrouterd', import.meta.url).pathname;
  const PW = 'lena-password-9';
  let dir;
  let store;
  let s;
  let surl;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wsr-cli-login-'));
    store = join(dir, 'wsrouter.db');
    for (const [name, pw] of [['lena', PW], ['milo', 'milo-password-10']]) {
      execFileSync(WSRD, ['user', 'add', name, '--role', 'admin', '--store', store], { input: `${pw}\n` });
    }
    s = await startServer(['--store', store, '--modules', 'all']);
    surl = `${s.url}/`;
  });

  after(async () => {
    await stopClean(s);
    rmSync(dir, { recursive: true, force: true });
  });

  test('login USER on the command line reads the password from stdin; -f token prints the token', async () => {
    let r = await cli(['-u', surl, '-f', 'token', 'login', 'lena'], { input: `${PW}\n` });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/);
    const token = r.stdout.trim();
    r = await cli(['-u', surl, '--token', token, 'call', 'profile']);
    assert.equal(r.stdout, '{"user":"lena","admin":true}\n');
    r = await cli(['-u', surl, 'login', 'lena'], { input: 'wrong-password\n' });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'wsrouter-cli: 401 wrong username or password\n');
    r = await cli(['-u', surl, 'login', 'lena'], { input: '' });
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'wsrouter-cli: no password given for lena\n');
  });

  test('in a session without a terminal, the line after login is the password; logout forgets the token', async () => {
    const r = await cli(['-u', surl], { input: `profile\nlogin lena\n${PW}\nprofile\nlogout\nprofile\nlogin lena\nnope\n` });
    assert.equal(r.code, 0, r.stderr);
    const need = '-ERR 401 route profile requires authentication: log in or send a token';
    assert.equal(r.stdout, [need, '+OK logged in as lena', '{"user":"lena","admin":true}', '+OK', need,
      '-ERR 401 wrong username or password', ''].join('\n'));
    assert.ok(!r.stdout.includes(PW) && !r.stderr.includes(PW));
  });

  test('the session keeps the token across a server restart', async () => {
    let t = await startServer(['--store', store, '--modules', 'all']);
    const child = spawn(CLI, ['-u', `${t.url}/`], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const exited = once(child, 'exit');
    const until = async (what, pred, ms = 10000) => {
      const deadline = Date.now() + ms;
      while (!pred()) {
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; stdout:\n${out}\nstderr:\n${err}`);
        await sleep(20);
      }
    };
    try {
      child.stdin.write(`login milo\nmilo-password-10\n`);
      await until('the login', () => out.includes('+OK logged in as milo\n'));
      await stopClean(t);
      await until('the drop', () => /^-- the server closed the connection/m.test(out));
      t = await startServer(['--store', store, '--modules', 'all', '--port', String(t.port)]);
      await until('the reconnection', () => out.includes('-- reconnected to'));
      child.stdin.write('profile\nGET /auth/me\n');
      await until('the profile', () => out.includes('{"user":"milo","admin":true}\n'));
      // The connection itself was authenticated again (/auth/session at the open).
      const other = await connect(t.url);
      assert.equal((await other.request({ cmd: 'ping' })).data, 'PONG');
      await other.close();
      child.stdin.end('quit\n');
      const [code] = await exited;
      assert.equal(code, 0, err);
      assert.ok(!out.includes('eyJ'), 'the token was printed');
    } finally {
      child.kill();
      await stopClean(t);
    }
  });

  test('--token-file: the first line of the file; a file others can read is warned about', async () => {
    const token = (await cli(['-u', surl, '-f', 'token', 'login', 'lena'], { input: `${PW}\n` })).stdout.trim();
    const file = join(dir, 'token');
    writeFileSync(file, `  ${token}  \nsecond line ignored\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
    let r = await cli(['-u', surl, '--token-file', file, 'call', 'profile']);
    assert.deepEqual(r, { code: 0, stdout: '{"user":"lena","admin":true}\n', stderr: '' });
    chmodSync(file, 0o644);
    r = await cli(['-u', surl, '--token-file', file, 'call', 'profile']);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, `wsrouter-cli: warning: --token-file ${file} can be read by other users (chmod 600 it)\n`);
    writeFileSync(join(dir, 'empty'), '\n', { mode: 0o600 });
    r = await cli(['-u', surl, '--token-file', join(dir, 'empty'), 'call', 'profile']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `wsrouter-cli: --token-file ${join(dir, 'empty')} holds no token\n`);
    r = await cli(['-u', surl, '--token-file', join(dir, 'missing'), 'call', 'profile']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `wsrouter-cli: --token-file ${join(dir, 'missing')}: No such file or directory\n`);
    r = await cli(['-u', surl, '--token-file', file, '--token', 'x', 'call', 'profile']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'wsrouter-cli: --token and --token-file cannot be used together\n');
  });

  test('--token-file is read again at each reconnection', async () => {
    const tokenOf = async (user, pw) => (await cli(['-u', surl, '-f', 'token', 'login', user], { input: `${pw}\n` })).stdout.trim();
    const file = join(dir, 'rotating');
    writeFileSync(file, `${await tokenOf('lena', PW)}\n`, { mode: 0o600 });
    let t = await startServer(['--store', store, '--modules', 'all']);
    const child = spawn(CLI, ['-u', `${t.url}/`, '--token-file', file], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    const until = async (what, pred, ms = 10000) => {
      const deadline = Date.now() + ms;
      while (!pred()) {
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; stdout:\n${out}`);
        await sleep(20);
      }
    };
    try {
      child.stdin.write('profile\n');
      await until('lena', () => out.includes('"user":"lena"'));
      // Another program renews the file; the next connection uses it.
      writeFileSync(file, `${await tokenOf('milo', 'milo-password-10')}\n`);
      await stopClean(t);
      await until('the drop', () => /^-- the server closed the connection/m.test(out));
      t = await startServer(['--store', store, '--modules', 'all', '--port', String(t.port)]);
      await until('the reconnection', () => out.includes('-- reconnected to'));
      child.stdin.write('profile\n');
      await until('milo', () => out.includes('"user":"milo"'));
      child.stdin.end('quit\n');
    } finally {
      child.kill();
      await stopClean(t);
    }
  });

  describe('on a terminal (tmux)', () => {
    const sock = `wsr-cli-login-${process.pid}`;
    const tmux = (...args) => execFileSync('tmux', ['-L', sock, '-f', '/dev/null', ...args], { encoding: 'utf8' });
    const pane = () => tmux('capture-pane', '-p', '-J', '-t', 'l');

    after(() => {
      try {
        tmux('kill-server');
      } catch {
        // already gone
      }
    });

    const waitPane = async (what, pred, ms = 10000) => {
      const deadline = Date.now() + ms;
      for (;;) {
        const text = pane();
        if (pred(text)) return text;
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; the pane:\n${text}`);
        await sleep(50);
      }
    };

    test('login asks for the password without echo and keeps the token; Ctrl-C there gives it up', async () => {
      tmux('new-session', '-d', '-s', 'l', '-x', '120', '-y', '40', `'${CLI}' -u ${surl}`);
      await waitPane('the prompt', (t) => t.includes('wsrouter> '));
      tmux('send-keys', '-t', 'l', '-l', 'login lena');
      tmux('send-keys', '-t', 'l', 'Enter');
      await waitPane('the password prompt', (t) => t.includes('password for lena: '));
      tmux('send-keys', '-t', 'l', '-l', PW);
      tmux('send-keys', '-t', 'l', 'Enter');
      let text = await waitPane('the login', (t) => t.includes('+OK logged in as lena'));
      assert.ok(!text.includes(PW), `the password was echoed:\n${text}`);
      tmux('send-keys', '-t', 'l', '-l', 'profile');
      tmux('send-keys', '-t', 'l', 'Enter');
      text = await waitPane('the profile', (t) => t.includes('{"user":"lena","admin":true}'));
      // The password is not in the history either: Up recalls "profile", then "login lena".
      tmux('send-keys', '-t', 'l', 'Up', 'Up');
      text = await waitPane('the history', (t) => /wsrouter> login lena\s*$/.test(t.trimEnd()));
      assert.ok(!text.includes(PW));
      tmux('send-keys', '-t', 'l', 'C-u');
      // Ctrl-C at the password prompt gives the login up: one line, one fresh prompt.
      tmux('send-keys', '-t', 'l', '-l', 'login milo');
      tmux('send-keys', '-t', 'l', 'Enter');
      await waitPane('the second password prompt', (t) => t.includes('password for milo: '));
      tmux('send-keys', '-t', 'l', 'C-c');
      text = await waitPane('the login given up', (t) => /no password given for milo *\nwsrouter>$/.test(t.trimEnd()));
      assert.ok(!text.includes('^C'), `one prompt, no second one:\n${text}`);
      tmux('send-keys', '-t', 'l', '-l', 'profile');
      tmux('send-keys', '-t', 'l', 'Enter');
      await waitPane('the profile, still lena', (t) => t.trimEnd().endsWith('{"user":"lena","admin":true}\nwsrouter>'));
      tmux('send-keys', '-t', 'l', '-l', 'quit');
      tmux('send-keys', '-t', 'l', 'Enter');
    });
  });
});

describe('history and completion on a terminal (tmux)', () => {
  const sock = `wsr-cli-hist-${process.pid}`;
  const tmux = (...args) => execFileSync('tmux', ['-L', sock, '-f', '/dev/null', ...args], { encoding: 'utf8' });
  const pane = (t) => tmux('capture-pane', '-p', '-J', '-t', t).split('\n').map((l) => l.trimEnd());
  const home = mkdtempSync(join(tmpdir(), 'wsr-cli-hist-'));
  const historyFile = join(home, '.local', 'state', 'wsrouter', 'history');

  async function waitPane(t, what, pred) {
    const deadline = Date.now() + 5000;
    for (;;) {
      const lines = pane(t);
      if (pred(lines)) return lines;
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; the pane:\n${lines.join('\n')}`);
      await sleep(50);
    }
  }

  after(() => {
    try {
      tmux('kill-server');
    } catch {
      // already gone
    }
    rmSync(home, { recursive: true, force: true });
  });

  test('Tab completes a command name; the history is kept across sessions in ~/.local/state/wsrouter', async () => {
    const start = (t) => tmux('new-session', '-d', '-s', t, '-x', '120', '-y', '40', `HOME='${home}' '${CLI}' -u ${url}`);
    // A session that outlives both: when h1 quits, the tmux server must not
    // be exiting just as h2 asks it for a session ("server exited unexpectedly").
    tmux('new-session', '-d', '-s', 'keep', 'sleep 120');
    start('h1');
    await waitPane('h1', 'the prompt', (l) => l.includes('wsrouter>'));
    tmux('send-keys', '-t', 'h1', '-l', 'incr');
    tmux('send-keys', '-t', 'h1', 'Tab');
    await waitPane('h1', 'the completion', (l) => l.includes('wsrouter> increment'));
    tmux('send-keys', '-t', 'h1', '-l', 'hist-a');
    tmux('send-keys', '-t', 'h1', 'Enter');
    let lines = await waitPane('h1', 'the answer', (l) => l.includes('wsrouter> increment hist-a') && l.includes('1'));
    assert.equal(lines[lines.indexOf('wsrouter> increment hist-a') + 1], '1');
    // Lines that carry a secret are answered but never written to the history.
    tmux('send-keys', '-t', 'h1', '-l', 'session not-a-real-token');
    tmux('send-keys', '-t', 'h1', 'Enter');
    await waitPane('h1', 'the session answer', (l) => l.some((x) => x.startsWith('-ERR')));
    // Only command names complete: nothing for a word the server does not list.
    // (A key typed after the Tab shows when the Tab was handled: no fixed sleep.)
    tmux('send-keys', '-t', 'h1', '-l', 'zzq');
    tmux('send-keys', '-t', 'h1', 'Tab');
    tmux('send-keys', '-t', 'h1', '-l', 'Z');
    await waitPane('h1', 'the line after the Tab', (l) => l.some((x) => x.startsWith('wsrouter> zzq')) && l.at(-1) !== undefined &&
      l.filter((x) => x !== '').at(-1).endsWith('Z'));
    assert.equal(pane('h1').filter((x) => x !== '').at(-1), 'wsrouter> zzqZ');
    tmux('send-keys', '-t', 'h1', 'C-u');
    tmux('send-keys', '-t', 'h1', '-l', 'quit');
    tmux('send-keys', '-t', 'h1', 'Enter');
    const deadline = Date.now() + 5000;
    while (!existsSync(historyFile) || !readFileSync(historyFile, 'utf8').includes('quit')) {
      if (Date.now() > deadline) assert.fail('no history file');
      await sleep(50);
    }
    assert.match(readFileSync(historyFile, 'utf8'), /increment\\040hist-a\nquit\n/);
    assert.ok(!readFileSync(historyFile, 'utf8').includes('not-a-real-token'), 'a secret in the history');
    assert.equal(statSync(historyFile).mode & 0o777, 0o600, 'the history is readable by its owner only');
    // A new session: Up twice brings back the line typed in the first.
    start('h2');
    await waitPane('h2', 'the prompt', (l) => l.includes('wsrouter>'));
    tmux('send-keys', '-t', 'h2', 'Up');
    tmux('send-keys', '-t', 'h2', 'Up');
    await waitPane('h2', 'the recalled line', (l) => l.includes('wsrouter> increment hist-a'));
    tmux('send-keys', '-t', 'h2', 'Enter');
    lines = await waitPane('h2', 'the second answer', (l) => l.includes('2'));
    assert.equal(lines[lines.indexOf('wsrouter> increment hist-a') + 1], '2');
    tmux('send-keys', '-t', 'h2', '-l', 'quit');
    tmux('send-keys', '-t', 'h2', 'Enter');
  });
});
