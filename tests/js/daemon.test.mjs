// SPDX-License-Identifier: MIT
// wsrouterd as a user runs it: flags, the configuration file and its errors,
// help and version, exit statuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WSRD, startServer, connect } from './harness.mjs';

const run = (args) => spawnSync(WSRD, args, { encoding: 'utf8', timeout: 10000 });

async function withConfig(text, fn) {
  const dir = mkdtempSync(join(tmpdir(), 'wsrd-'));
  const path = join(dir, 'wsrouter.json');
  writeFileSync(path, text);
  try {
    return await fn(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('--help and --version exit 0', () => {
  const h = run(['--help']);
  assert.equal(h.status, 0);
  assert.match(h.stdout, /usage: wsrouterd/);
  assert.match(h.stdout, /--config FILE/);
  const v = run(['--version']);
  assert.equal(v.status, 0);
  assert.match(v.stdout, /^wsrouterd \d+\.\d+\.\d+ \(protocol v1\)/);
});

test('bad flags exit 2 with a sentence naming the flag', () => {
  let r = run(['--port', 'abc']);
  assert.equal(r.status, 2);
  assert.equal(r.stderr.trim(), 'wsrouterd: option port must be an integer from 0 to 65535 (got "abc")');
  r = run(['--log-level', 'loud']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /option log_level must be one of err, warn, notice, info, debug/);
  r = run(['--max-message', '10']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /option max_message must be a size in bytes from 16/);
  r = run(['--nope']);
  assert.equal(r.status, 2);
  r = run(['--set', 'nokey=1']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown option nokey/);
});

test('configuration errors name the file, line, column and key, before binding', async () => {
  await withConfig('{\n  "port": 0,\n  "max_depth": 0\n}\n', (path) => {
    const r = run(['--config', path]);
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim(), `wsrouterd: ${path}:3:3: key "max_depth" must be an integer from 1 to 2048`);
  });
  await withConfig('{\n  "port": 0,\n  "colour": "blue"\n}\n', (path) => {
    const r = run(['--config', path]);
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim(), `wsrouterd: ${path}:3:3: unknown key "colour" (the keys are listed in README.md)`);
  });
  await withConfig('{\n  "prot": 0\n}\n', (path) => {
    const r = run(['--config', path]);
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim(), `wsrouterd: ${path}:2:3: unknown key "prot" (did you mean "port"?)`);
  });
  await withConfig('{ "port": 0, }', (path) => {
    const r = run(['--config', path]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, new RegExp(`${path}:1:\\d+: not valid JSON: `));
  });
  let r = run(['--config', '/nonexistent/wsrouter.json']);
  assert.equal(r.status, 2);
  assert.equal(r.stderr.trim(), 'wsrouterd: /nonexistent/wsrouter.json: cannot read the file: No such file or directory');
  r = run(['--set', 'max_subscriptions=1K']);
  assert.equal(r.status, 2);
  assert.equal(r.stderr.trim(), 'wsrouterd: option max_subscriptions must be an integer from 0 to 1000000 (got "1K")');
});

test('a port in use is a clear error, exit 1', async () => {
  const srv = await startServer([]);
  const r = run(['--port', String(srv.port)]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1 port ${srv.port}`));
  await srv.stop();
});

test('the configuration file is applied, and flags override it', async () => {
  await withConfig('{"max_message": "2K", "modules": "math", "builtins": true}', async (path) => {
    const srv = await startServer(['--config', path, '--modules', 'math,echo']);
    const c = await connect(srv.url);
    assert.equal((await c.request({ cmd: 'add', args: { x: 2, y: 3 } })).data, 5);
    assert.equal((await c.request({ cmd: 'echo', data: 1 })).data, 1);
    assert.equal((await c.request({ method: 'GET', url: '/hello' })).status, 404);
    c.send(JSON.stringify({ cmd: 'echo', data: 'x'.repeat(3000) }));
    assert.equal((await c.closed).code, 1009);
    const { code } = await srv.stop();
    assert.equal(code, 0);
  });
});

test('an unknown route module is refused', () => {
  const r = run(['--port', '0', '--modules', 'math,bogus']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /unknown route module "bogus"/);
});

test('SIGINT drains like SIGTERM and exits 0', async () => {
  const srv = await startServer([]);
  const c = await connect(srv.url);
  const { code } = await srv.stop('SIGINT');
  assert.equal(code, 0);
  assert.equal((await c.closed).code, 1001);
});

test('past the shutdown deadline the process exits, whatever a handler does', async () => {
  // A handler blocks a worker for 20 s; the drain deadline is 1 s. Before,
  // the process waited for the handler (pthread_join) however long it took.
  const srv = await startServer(['--modules', 'all', '--set', 'shutdown_timeout_ms=1000']);
  const c = await connect(srv.url);
  c.send(JSON.stringify({ method: 'GET', url: '/diag/sleep', args: { ms: 20000 }, id: 1 }));
  // The job is on the worker (stats say busy) before the signal.
  const probe = await connect(srv.url);
  for (let i = 0; i < 200; i++) {
    const st = await probe.request({ cmd: 'stats' });
    if (st.data.workers.busy === 1) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  const t0 = Date.now();
  const { code } = await srv.stop('SIGTERM', 15000);
  const took = Date.now() - t0;
  assert.equal(code, 0);
  // Deadline (1 s), the closes' grace (1 s), the workers' grace (1 s): well
  // under the handler's 20 s.
  assert.ok(took < 10000, `exited after ${took} ms`);
  assert.match(srv.stderr(), /still running past the shutdown deadline/);
  assert.equal((await c.closed).code, 1001);
});

test('wsrouterd user add refuses a password longer than it can read', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wsrd-users-'));
  try {
    const store = join(dir, 'w.db');
    let r = spawnSync(WSRD, ['user', 'add', 'longpw', '--store', store],
      { input: `${'x'.repeat(1500)}\n`, encoding: 'utf8', timeout: 10000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /the password is too long/);
    r = spawnSync(WSRD, ['user', 'add', 'okpw', '--store', store],
      { input: 'a-fine-password\n', encoding: 'utf8', timeout: 10000 });
    assert.equal(r.status, 0, r.stderr);
    r = spawnSync(WSRD, ['user', 'list', '--store', store], { encoding: 'utf8', timeout: 10000 });
    assert.equal(r.stdout, 'okpw\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('-h is the help (the address is --host), and an unknown option is one line and a hint', () => {
  const h = run(['-h']);
  assert.equal(h.status, 0, h.stderr);
  assert.match(h.stdout, /^usage: wsrouterd/);
  assert.match(h.stdout, /^ {6}--host ADDR {9}address to bind/m);
  assert.match(h.stdout, /^ {2}-h, --help {14}this text$/m);
  const r = run(['--nope']);
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, "wsrouterd: unknown option '--nope'\nTry 'wsrouterd --help' for the options.\n");
});

test('wsrouterd user --help prints the user usage and exits 0; a bad verb prints it to stderr, 2', () => {
  for (const args of [['user', '--help'], ['user', '-h'], ['user', 'add', '--help']]) {
    const r = run(args);
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, /^usage: wsrouterd user add NAME \[--role ROLE\]\.\.\./);
    assert.match(r.stdout, /wsrouterd user remove NAME/);
  }
  const r = run(['user', 'frobnicate']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^usage: wsrouterd user add NAME/);
});

test('semantic configuration errors (a short jwt_secret, an unknown module) name the file and line too', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wsrd-sem-'));
  const store = join(dir, 'wsrouter.db');
  try {
    await withConfig('{\n  "port": 0,\n  "jwt_secret": "too-short"\n}\n', (path) => {
      const r = run(['--config', path, '--store', store]);
      assert.equal(r.status, 1);
      assert.equal(r.stderr.trim(), `wsrouterd: ${path}:3:3: jwt_secret must be 32 to 256 bytes`);
      assert.ok(!r.stderr.includes('too-short'), 'the secret is not echoed');
      // Given as a flag, the same error has no place in the file to name.
      const f = run(['--config', path, '--store', store, '--set', 'jwt_secret=also-too-short']);
      assert.equal(f.stderr.trim(), 'wsrouterd: jwt_secret must be 32 to 256 bytes');
    });
    await withConfig('{\n  "port": 0,\n    "modules": "math,nope"\n}\n', (path) => {
      const r = run(['--config', path, '--store', store]);
      assert.equal(r.status, 1);
      assert.match(r.stderr.trim(), new RegExp(`^wsrouterd: ${path}:3:5: unknown route module "nope" \\(modules: math,`));
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
