// SPDX-License-Identifier: MIT
// wsrouter-cli as a user runs it (env WSR_CLI): one-shot requests with their
// outputs and exit statuses, the encodings and the token on the wire (seen by
// a small `ws` server), and an interactive session on a pseudo-terminal driven
// through tmux. Every wait is bounded. Every wsrouterd is stopped with SIGTERM
// and must exit 0, so sanitizer reports in the server fail the suite.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { startServer, connect } from './harness.mjs';

const CLI = process.env.WSR_CLI ?? new URL('../../build/wsrouter-cli', import.meta.url).pathname;
const SRC = process.env.WSR_SOURCE_DIR ?? new URL('../..', import.meta.url).pathname;

/** Runs the CLI; resolves with { code, stdout, stderr } (never rejects). */
function cli(args, { input, timeout = 15000 } = {}) {
  return new Promise((resolve) => {
    const child = execFile(CLI, args, { encoding: 'utf8', timeout }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? -1) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin.end(input);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A TCP port nothing listens on. */
async function freePort() {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address();
  s.close();
  await once(s, 'close');
  return port;
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

describe('interactive without a terminal', () => {
  test('reads lines from stdin and answers each like retopy', async () => {
    const r = await cli(['-u', url], { input: 'increment p\nincrement p\nget p\nrem p\nget p\nnosuch 1\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '1\n2\n2\n+OK\n-ERR counter p not found\n-ERR no command named nosuch\n');
  });

  test('a line over 8191 bytes is refused whole: no part of it runs', async () => {
    const long = `set lq ${'a'.repeat(8185)}increment lq`;
    const exact = `${' '.repeat(8191 - 12)}increment lz`; // 8191 bytes: the longest line taken
    assert.equal(exact.length, 8191);
    const r = await cli(['-u', url], { input: `${long}\nget lq\n${exact}\nincrement lq\n${'c'.repeat(20000)}` });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, [
      '-ERR line too long (max 8191 bytes)',
      '-ERR counter lq not found',
      '1',
      '1',
      '-ERR line too long (max 8191 bytes)',
      '',
    ].join('\n'));
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
      await until('the re-subscription', () => out.includes('-- re-subscribed to chat\n'));
      assert.match(out, new RegExp(`^-- reconnected to ws://127\\.0\\.0\\.1:${s.port}/$`, 'm'));
      assert.ok(!out.includes('re-subscribed to news'), out);
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
    assert.deepEqual(await line('get a'), ['-ERR counter a not found']);
    assert.deepEqual(await line('set a 5'), ['5']);
    assert.deepEqual(await line('set a five'), ['-ERR invalid parameter value: must be an integer (value: must be an integer)']);
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
    assert.deepEqual(await line('subscribe counters'), ['{"subscribed":"counters"}']);
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
