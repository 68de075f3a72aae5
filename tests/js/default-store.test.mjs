// SPDX-License-Identifier: MIT
// wsrouterd's default store is one file wherever the server starts:
// $STATE_DIRECTORY/wsrouter.db under systemd, else
// $XDG_STATE_HOME/wsrouter/wsrouter.db, else ~/.local/state/wsrouter/wsrouter.db
// (its directories made, mode 0700); `wsrouterd user` uses the same one, and
// `--store ""` still means none. Real wsrouterd processes, each with a
// HOME of its own.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, mkdirSync, rmSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WSRD, withTimeout, connect } from './harness.mjs';

/** The environment of a user whose home is `home`, without the variables
 * that choose the store unless given. */
function envFor(home, extra = {}) {
  const env = { ...process.env, HOME: home, ...extra };
  for (const k of ['STATE_DIRECTORY', 'XDG_STATE_HOME']) if (!(k in extra)) delete env[k];
  return env;
}

const running = new Set(); // servers a failed test left: stopped by pid at the end
after(() => { for (const p of running) p.kill('SIGKILL'); });

/** Starts wsrouterd (no --store) in `cwd`; resolves with {url, store, stop}. */
async function start(cwd, env, args = []) {
  const proc = spawn(WSRD, ['--port', '0', ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(proc);
  proc.on('exit', () => running.delete(proc));
  let out = '';
  let err = '';
  proc.stderr.on('data', (d) => { err += d; });
  const exited = once(proc, 'close'); // close: its output read to the end
  const ready = new Promise((resolve, reject) => {
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /wsrouterd store: (.*)\n(?:.*\n)*?wsrouterd listening on (ws:\/\/\S+\/)/.exec(out);
      if (m) resolve({ store: m[1], url: m[2] });
    });
    exited.then(([code]) => reject(new Error(`wsrouterd exited (${code}):\n${err}`)));
  });
  const info = await withTimeout(ready, 10000, 'wsrouterd to listen');
  return {
    ...info,
    async stop() {
      proc.kill('SIGTERM');
      const [code] = await withTimeout(exited, 15000, 'wsrouterd to exit');
      assert.equal(code, 0, err);
    },
  };
}

async function increment(url, key) {
  const c = await connect(url);
  const r = await c.request({ cmd: 'increment', args: { key }, id: 1 });
  await c.close();
  assert.equal(r.status, 200, JSON.stringify(r));
  return r.data;
}

function scratch() {
  const dir = mkdtempSync(join(tmpdir(), 'wsrd-default-store-'));
  const a = join(dir, 'a');
  const b = join(dir, 'b', 'deeper');
  mkdirSync(a, { recursive: true });
  mkdirSync(b, { recursive: true });
  return { dir, a, b, home: join(dir, 'home') };
}

test('without --store: ~/.local/state/wsrouter/wsrouter.db, the same from any directory', async () => {
  const s = scratch();
  try {
    mkdirSync(s.home);
    const env = envFor(s.home);
    const want = join(s.home, '.local', 'state', 'wsrouter', 'wsrouter.db');
    let srv = await start(s.a, env);
    assert.equal(srv.store, want);
    assert.equal(await increment(srv.url, 'visits'), 1);
    await srv.stop();
    // The directories it made are the user's alone.
    assert.equal(statSync(join(s.home, '.local', 'state', 'wsrouter')).mode & 0o777, 0o700);
    assert.equal(statSync(join(s.home, '.local', 'state')).mode & 0o777, 0o700);
    // Another working directory, the same store: the counter goes on.
    srv = await start(s.b, env);
    assert.equal(srv.store, want);
    assert.equal(await increment(srv.url, 'visits'), 2);
    await srv.stop();
    assert.ok(!existsSync(join(s.a, 'var')) && !existsSync(join(s.b, 'var')), 'nothing written in the working directory');
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('XDG_STATE_HOME, then STATE_DIRECTORY (systemd) choose the directory; relative values are ignored', async () => {
  const s = scratch();
  try {
    mkdirSync(s.home);
    const xdg = join(s.dir, 'xdg');
    let srv = await start(s.a, envFor(s.home, { XDG_STATE_HOME: xdg }));
    assert.equal(srv.store, join(xdg, 'wsrouter', 'wsrouter.db'));
    await srv.stop();
    const state = join(s.dir, 'state');
    mkdirSync(state);
    // systemd gives a colon-separated list when a unit names several.
    srv = await start(s.a, envFor(s.home, { XDG_STATE_HOME: xdg, STATE_DIRECTORY: `${state}:/elsewhere` }));
    assert.equal(srv.store, join(state, 'wsrouter.db'));
    await srv.stop();
    srv = await start(s.a, envFor(s.home, { XDG_STATE_HOME: 'relative/dir' }));
    assert.equal(srv.store, join(s.home, '.local', 'state', 'wsrouter', 'wsrouter.db'));
    await srv.stop();
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('--store FILE and --store "" override the default, and make no directory', async () => {
  const s = scratch();
  try {
    mkdirSync(s.home);
    const file = join(s.dir, 'explicit.db');
    let srv = await start(s.a, envFor(s.home), ['--store', file]);
    assert.equal(srv.store, file);
    await srv.stop();
    srv = await start(s.a, envFor(s.home), ['--store', '']);
    assert.equal(srv.store, 'none');
    await srv.stop();
    assert.ok(!existsSync(join(s.home, '.local')), 'the default directories are made only when used');
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('wsrouterd user add and list use the same default store as the server', async () => {
  const s = scratch();
  try {
    mkdirSync(s.home);
    const env = envFor(s.home);
    const add = spawnSync(WSRD, ['user', 'add', 'carol', '--role', 'admin'],
      { cwd: s.b, env, input: 'a long password\n', encoding: 'utf8', timeout: 30000 });
    assert.equal(add.status, 0, add.stderr);
    const list = spawnSync(WSRD, ['user', 'list'], { cwd: s.a, env, encoding: 'utf8', timeout: 30000 });
    assert.equal(list.stdout, 'carol\tadmin\n');
    const srv = await start(s.a, env);
    const c = await connect(srv.url);
    const r = await c.request({ method: 'POST', url: '/auth/login', data: { username: 'carol', password: 'a long password' }, id: 1 }, 30000);
    await c.close();
    assert.equal(r.status, 200, JSON.stringify(r));
    await srv.stop();
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
});
