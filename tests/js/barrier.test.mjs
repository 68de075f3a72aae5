// SPDX-License-Identifier: MIT
// The login barrier (PROTOCOL.md section 6) against the real wsrouterd: a
// request that changes the connection's identity (login, logout, session) is
// handled before the requests sent after it on the same connection, so the
// README's snippet, which pipelines a login and an admin request, works as
// written. Also: pipelined login and /auth/me, logout then a guarded call,
// order kept behind the barrier, a JSON-RPC batch with a login inside, and
// the bound on what may wait (close 1008 past it).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WSRD, startServer, connect, withTimeout } from './harness.mjs';

const LONG = 120000; // PBKDF2 under sanitizers takes seconds

function userAdd(store, name, password, roles = []) {
  const r = spawnSync(WSRD, ['user', 'add', name, ...roles.flatMap((x) => ['--role', x]), '--store', store],
    { input: `${password}\n`, encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 0, r.stderr);
}

/** The next `n` messages of `c`, parsed. */
async function replies(c, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const { _raw, ...m } = await c.nextJson(LONG);
    out.push(m);
  }
  return out;
}

describe('the login barrier', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wsrd-barrier-'));
  const store = join(dir, 'wsrouter.db');
  let srv;

  before(async () => {
    userAdd(store, 'alice', 'correct horse', ['admin']);
    userAdd(store, 'bob', 'bob-password-2');
    srv = await startServer(['--store', store, '--modules', 'all',
      '--set', `request_timeout_ms=${LONG}`, '--set', 'max_message=65536']);
  });

  after(async () => {
    const { code } = await srv.stop();
    rmSync(dir, { recursive: true, force: true });
    assert.equal(code, 0, srv.stderr());
  });

  test("the README's snippet: a login and an admin request, pipelined", async () => {
    // README.md, "Users, logins and guarded routes", as written.
    const ws = (await connect(srv.url));
    ws.send(JSON.stringify({ method: 'POST', url: '/auth/login', data: { username: 'alice', password: 'correct horse' } }));
    ws.send(JSON.stringify({ method: 'GET', url: '/account/admin' }));  // needs the admin role
    const [login, admin] = await replies(ws, 2);
    assert.equal(login.status, 200);
    assert.equal(login.data.user, 'alice');
    assert.deepEqual(login.data.roles, ['admin']);
    assert.match(login.data.token, /^eyJ/);
    assert.equal(admin.status, 200, JSON.stringify(admin));
    await ws.close();
  });

  test('a pipelined login, then /auth/me and more, answered in order', async () => {
    const c = await connect(srv.url);
    c.send(JSON.stringify({ method: 'POST', url: '/auth/login', data: { username: 'bob', password: 'bob-password-2' }, id: 'login' }));
    for (let i = 1; i <= 5; i++) c.send(JSON.stringify({ method: 'GET', url: '/auth/me', id: i }));
    c.send(JSON.stringify({ cmd: 'admin', id: 'admin' }));
    const got = await replies(c, 7);
    assert.deepEqual(got.map((r) => r.id), ['login', 1, 2, 3, 4, 5, 'admin']);
    for (const r of got.slice(1, 6)) assert.equal(r.data.user, 'bob');
    assert.equal(got[6].status, 403);
    await c.close();
  });

  test('a wrong password holds too: what follows is answered after it, 401', async () => {
    const c = await connect(srv.url);
    c.send(JSON.stringify({ method: 'POST', url: '/auth/login', data: { username: 'bob', password: 'wrong password' }, id: 1 }));
    c.send(JSON.stringify({ cmd: 'profile', id: 2 }));
    const [login, profile] = await replies(c, 2);
    assert.deepEqual([login.id, login.status, login.detail], [1, 401, 'wrong username or password']);
    assert.deepEqual([profile.id, profile.status], [2, 401]);
    await c.close();
  });

  test('logout, then a guarded call: 401', async () => {
    const c = await connect(srv.url);
    c.send(JSON.stringify({ method: 'POST', url: '/auth/login', data: { username: 'bob', password: 'bob-password-2' }, id: 1 }));
    c.send(JSON.stringify({ cmd: 'profile', id: 2 }));
    c.send(JSON.stringify({ method: 'POST', url: '/auth/logout', id: 3 }));
    c.send(JSON.stringify({ cmd: 'profile', id: 4 }));
    const got = await replies(c, 4);
    assert.deepEqual(got.map((r) => [r.id, r.status]), [[1, 200], [2, 200], [3, 200], [4, 401]]);
    assert.equal(got[3].detail, 'route profile requires authentication: log in or send a token');
    // The connection stays open, anonymous.
    assert.equal((await c.request({ cmd: 'ping' })).data, 'PONG');
    await c.close();
  });

  test('/auth/session, pipelined with what needs it', async () => {
    const a = await connect(srv.url);
    const token = (await a.request({ method: 'POST', url: '/auth/login', data: { username: 'alice', password: 'correct horse' } }, LONG)).data.token;
    await a.close();
    const c = await connect(srv.url);
    c.send(JSON.stringify({ method: 'POST', url: '/auth/session', data: { token }, id: 1 }));
    c.send(JSON.stringify({ cmd: 'admin', id: 2 }));
    const got = await replies(c, 2);
    assert.deepEqual(got.map((r) => [r.id, r.status]), [[1, 200], [2, 200]]);
    await c.close();
  });

  test('a JSON-RPC batch with a login: the elements after it wait for it', async () => {
    const c = await connect(srv.url);
    c.send(JSON.stringify([
      { jsonrpc: '2.0', method: 'profile', id: 'before' },
      { jsonrpc: '2.0', method: 'login', params: { username: 'alice', password: 'correct horse' }, id: 'login' },
      { jsonrpc: '2.0', method: 'me', id: 'me' },
      { jsonrpc: '2.0', method: 'admin', id: 'admin' },
    ]));
    c.send(JSON.stringify({ jsonrpc: '2.0', method: 'me', id: 'next' }));
    const batch = JSON.parse((await c.next(LONG)).text);
    const byId = Object.fromEntries(batch.map((r) => [r.id, r]));
    assert.equal(byId.before.error.code, -32001);
    assert.equal(byId.login.result.user, 'alice');
    assert.equal(byId.me.result.user, 'alice');
    assert.ok('result' in byId.admin, JSON.stringify(byId.admin));
    const { _raw, ...next } = await c.nextJson(LONG);
    assert.equal(next.result.user, 'alice');
    await c.close();
  });

  test('what waits is bounded: past 1000 messages the connection closes 1008', async () => {
    const c = await connect(srv.url);
    c.send(JSON.stringify({ method: 'POST', url: '/auth/login', data: { username: 'bob', password: 'bob-password-2' } }));
    for (let i = 0; i <= 1000; i++) c.send('{"cmd":"ping"}');
    const closed = await withTimeout(c.closed, LONG, 'the close');
    assert.deepEqual(closed, { code: 1008, reason: 'too many requests wait behind a login' });
  });

  test('what waits is bounded: past max_message bytes the connection closes 1008', async () => {
    const c = await connect(srv.url);
    c.send(JSON.stringify({ method: 'POST', url: '/auth/login', data: { username: 'bob', password: 'bob-password-2' } }));
    const big = JSON.stringify({ cmd: 'echo', data: 'x'.repeat(30000) });
    for (let i = 0; i < 3; i++) c.send(big);
    const closed = await withTimeout(c.closed, LONG, 'the close');
    assert.deepEqual(closed, { code: 1008, reason: 'too many requests wait behind a login' });
  });

  test('within the bound, everything waits and is answered', async () => {
    const c = await connect(srv.url);
    c.send(JSON.stringify({ method: 'POST', url: '/auth/login', data: { username: 'bob', password: 'bob-password-2' } }));
    const big = JSON.stringify({ cmd: 'echo', data: 'x'.repeat(30000) });
    c.send(big);
    for (let i = 0; i < 100; i++) c.send(JSON.stringify({ cmd: 'me', id: i }));
    const got = await replies(c, 102);
    assert.equal(got[0].data.user, 'bob');
    assert.equal(got[1].data.length, 30000);
    assert.deepEqual(got.slice(2).map((r) => [r.id, r.data.user]), [...Array(100).keys()].map((i) => [i, 'bob']));
    await c.close();
  });
});
