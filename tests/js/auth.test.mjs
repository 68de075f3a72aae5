// SPDX-License-Identifier: MIT
// Authentication (PROTOCOL.md section 6) and the store against the real
// wsrouterd: users made with the real CLI, login, per-route auth and roles,
// tokens at the handshake, as a member and with /auth/session, logout and
// revocation across connections, tokens minted here with Node's crypto
// (another secret, alg none, expiry), user removal from another process,
// durability across kill -9, login load against event-loop latency, and
// secrets kept out of the logs.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { WSRD, startServer, connect, withTimeout } from './harness.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nowS = () => Math.floor(Date.now() / 1000);
const b64u = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');
const unb64u = (s) => JSON.parse(Buffer.from(s, 'base64url').toString());
const isoS = (s) => new Date(s * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** An HS256 JWT of `claims` signed with `secret`, made here, not by wsrouterd. */
function mint(secret, claims, header = { alg: 'HS256', typ: 'JWT' }) {
  const input = `${b64u(header)}.${b64u(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** Claims as wsrouterd issues them: sub, iat, exp, jti, roles. */
function claimsFor(sub, { ttl = 3600, roles = '', iat = nowS(), ...rest } = {}) {
  return { sub, iat, exp: iat + ttl, jti: randomBytes(16).toString('base64url'), roles, ...rest };
}

function tempStore() {
  const dir = mkdtempSync(join(tmpdir(), 'wsrd-auth-'));
  return { dir, path: join(dir, 'wsrouter.db'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `wsrouterd user ...` as an operator runs it (password on stdin). */
function cli(args, input = '') {
  return spawnSync(WSRD, ['user', ...args], { input, encoding: 'utf8', timeout: 30000 });
}

function userAdd(store, name, password, roles = []) {
  const r = cli(['add', name, ...roles.flatMap((x) => ['--role', x]), '--store', store], `${password}\n`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `user ${name} added${roles.length ? ` with roles ${roles.join(',')}` : ''}\n`);
}

/** Tries a WebSocket handshake: { status: 101, client } or { status, body }. */
function handshake(url, options = {}) {
  return withTimeout(new Promise((resolve, reject) => {
    const ws = new WebSocket(url, undefined, options);
    ws.once('open', async () => {
      ws.removeAllListeners('error');
      resolve({ status: 101, ws });
    });
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      const done = () => { resolve({ status: res.statusCode, body }); req.destroy(); };
      res.once('end', done);
      res.once('error', done);
      res.once('close', done);
    });
    ws.once('error', reject);
  }), 5000, `the handshake to ${url}`);
}

const login = (c, username, password, ms = 30000) =>
  c.request({ method: 'POST', url: '/auth/login', data: { username, password } }, ms);
const me = (c, extra = {}) => c.request({ method: 'GET', url: '/auth/me', ...extra });
const profile = (c, extra = {}) => c.request({ cmd: 'profile', ...extra });

/** Resolves with { code, reason } once `c` closes, failing after `ms`. */
const closedWithin = (c, ms, what) => withTimeout(c.closed, ms, what);

/** Sends `req` on `c`: the reply's status, or 'closed' when `c` closes first. */
function statusOrClosed(c, req) {
  return Promise.race([
    c.request(req).then((r) => r.status, () => 'no reply'),
    c.closed.then(() => 'closed'),
  ]);
}

/** True when `c` is still open after `ms`. */
async function staysOpen(c, ms) {
  const r = await Promise.race([c.closed.then(() => false), sleep(ms).then(() => true)]);
  return r && c.ws.readyState === WebSocket.OPEN;
}

const NEED_AUTH = 'route profile requires authentication: log in or send a token';

// ---------------------------------------------------------------------------
describe('a server with users made by the CLI', () => {
  const store = tempStore();
  const PW = { alice: 'alice-password-1', bob: 'bob-password-22', carol: 'carol-password-333' };
  let srv;
  let anon;

  before(async () => {
    userAdd(store.path, 'alice', PW.alice, ['admin']);
    userAdd(store.path, 'bob', PW.bob);
    userAdd(store.path, 'carol', PW.carol, ['ops', 'admin']);
    const list = cli(['list', '--store', store.path]);
    assert.equal(list.stdout, 'alice\tadmin\nbob\ncarol\tops,admin\n');
    // Twenty logins queue behind four workers: under sanitizers, where one
    // PBKDF2 takes seconds, the last would pass the default 30 s timeout.
    srv = await startServer(['--store', store.path, '--modules', 'all',
      '--set', 'request_timeout_ms=150000']);
    anon = await connect(srv.url);
  });

  after(async () => {
    await anon?.close().catch(() => {});
    const { code } = await srv.stop();
    assert.equal(code, 0, srv.stderr());
    store.remove();
  });

  describe('login', () => {
    test('answers {token, expires_at, user, roles} and authenticates the connection', async () => {
      const c = await connect(srv.url);
      const before = nowS();
      const r = await login(c, 'alice', PW.alice);
      assert.equal(r.status, 200, r._raw.text);
      assert.deepEqual(Object.keys(r.data).sort(), ['expires_at', 'roles', 'token', 'user']);
      assert.equal(r.data.user, 'alice');
      assert.deepEqual(r.data.roles, ['admin']);
      const [h, p, s] = r.data.token.split('.');
      assert.match(r.data.token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
      assert.deepEqual(unb64u(h), { alg: 'HS256', typ: 'JWT' });
      const claims = unb64u(p);
      assert.deepEqual(Object.keys(claims).sort(), ['exp', 'iat', 'iat_ms', 'jti', 'roles', 'sid', 'sub']);
      assert.equal(Math.floor(claims.iat_ms / 1000), claims.iat);
      assert.equal(claims.sub, 'alice');
      // An array of strings, as the reply gives them (it was "admin,ops" text).
      assert.deepEqual(claims.roles, ['admin']);
      // The login's id, kept by /auth/refresh; the token's own id is jti.
      assert.match(claims.sid, /^[A-Za-z0-9_-]{22}$/);
      assert.notEqual(claims.sid, claims.jti);
      assert.ok(claims.iat >= before && claims.iat <= nowS(), `iat ${claims.iat}`);
      assert.equal(claims.exp, claims.iat + 3600); // token_ttl_s's default
      assert.equal(r.data.expires_at, claims.exp);
      assert.match(claims.jti, /^[A-Za-z0-9_-]{22}$/);
      assert.ok(s.length === 43);
      // The connection is now alice's.
      const m = await me(c);
      assert.equal(m._raw.text,
        `{"status":200,"data":{"user":"alice","roles":["admin"],"expires_at":${claims.exp}},"event_name":null}`);
      assert.deepEqual((await profile(c)).data, { user: 'alice', admin: true });
      assert.equal((await c.request({ cmd: 'admin' })).status, 200);
      // Each login is a new token.
      const again = await login(c, 'alice', PW.alice);
      assert.notEqual(again.data.token, r.data.token);
      await c.close();
    });

    test('a wrong password and an unknown user get the same 401', async () => {
      // That both cost one full hash check is test_password's (the dummy).
      const c = await connect(srv.url);
      const want = '{"status":401,"detail":"wrong username or password","event_name":null}';
      assert.equal((await login(c, 'alice', 'not-her-password'))._raw.text, want);
      assert.equal((await login(c, 'mallory', 'not-her-password'))._raw.text, want);
      assert.equal((await login(c, 'Alice', PW.alice))._raw.text, want); // names are exact
      assert.equal((await login(c, 'alice', `${PW.alice} `))._raw.text, want);
      assert.equal((await login(c, 'alice', ''))._raw.text, want);
      // Still anonymous.
      assert.equal((await profile(c)).detail, NEED_AUTH);
      await c.close();
    });

    test('a missing username or password is a 422 naming it', async () => {
      let r = await anon.request({ method: 'POST', url: '/auth/login', data: {} });
      assert.equal(r._raw.text, '{"status":422,"detail":"invalid parameters: username, password",'
        + '"errors":{"username":"is required in data (or args), as a string","password":"is required in data (or args), as a string"},'
        + '"event_name":null}');
      r = await anon.request({ method: 'POST', url: '/auth/login', data: { username: 'alice' } });
      assert.equal(r.status, 422);
      assert.deepEqual(r.errors, { password: 'is required in data (or args), as a string' });
      r = await anon.request({ method: 'POST', url: '/auth/login', data: { password: PW.alice } });
      assert.deepEqual(r.errors, { username: 'is required in data (or args), as a string' });
      r = await anon.request({ method: 'POST', url: '/auth/login', data: { username: 5, password: PW.alice } });
      assert.deepEqual(r.errors, { username: 'is required in data (or args), as a string' });
      r = await anon.request({ method: 'POST', url: '/auth/login' });
      assert.equal(r.status, 422);
      assert.deepEqual(Object.keys(r.errors).sort(), ['password', 'username']);
    });
  });

  describe('per-route authentication and roles', () => {
    test('profile is 401 anonymous; admin is 401 anonymous, 403 without the role, 200 with it', async () => {
      assert.equal((await profile(anon))._raw.text,
        `{"status":401,"detail":"${NEED_AUTH}","event_name":null}`);
      assert.equal((await anon.request({ cmd: 'admin' })).detail,
        'route admin requires authentication: log in or send a token');
      assert.equal((await me(anon)).status, 401);
      const bob = await connect(srv.url);
      assert.equal((await login(bob, 'bob', PW.bob)).status, 200);
      assert.deepEqual((await profile(bob)).data, { user: 'bob', admin: false });
      assert.equal((await bob.request({ cmd: 'admin' }))._raw.text,
        '{"status":403,"detail":"route admin requires the role admin","event_name":null}');
      assert.equal((await bob.request({ method: 'GET', url: '/account/admin' })).status, 403);
      const carol = await connect(srv.url);
      assert.equal((await login(carol, 'carol', PW.carol)).status, 200);
      const a = await carol.request({ cmd: 'admin' });
      assert.equal(a.status, 200, a._raw.text);
      assert.equal(a.data.user, 'carol');
      assert.deepEqual((await me(carol)).data.roles, ['ops', 'admin']);
      // Public routes stay public for everyone.
      assert.equal((await anon.request({ cmd: 'ping' })).data, 'PONG');
      await bob.close();
      await carol.close();
    });

    test('the token member authenticates that one request only', async () => {
      const t = (await login(await connect(srv.url), 'alice', PW.alice)).data.token;
      assert.deepEqual((await profile(anon, { token: t })).data, { user: 'alice', admin: true });
      assert.equal((await anon.request({ cmd: 'admin', token: t })).status, 200);
      assert.equal((await profile(anon)).detail, NEED_AUTH);
      // On a connection authenticated as bob, the member wins for one request.
      const bob = await connect(srv.url);
      await login(bob, 'bob', PW.bob);
      assert.equal((await profile(bob, { token: t })).data.user, 'alice');
      assert.equal((await profile(bob)).data.user, 'bob');
      assert.equal((await bob.request({ cmd: 'admin' })).status, 403);
      // A bad member is a 401 even on a public route, and changes nothing.
      const r = await bob.request({ cmd: 'ping', token: `${t}x` });
      assert.equal(r.status, 401);
      assert.equal(r.detail, "the request's token is not valid: token signature has the wrong length");
      assert.equal((await profile(bob)).data.user, 'bob');
      await bob.close();
    });
  });

  describe('tokens at the handshake and /auth/session', () => {
    let token;
    before(async () => {
      const c = await connect(srv.url);
      token = (await login(c, 'carol', PW.carol)).data.token;
      await c.close();
    });

    test('?token= on the URL authenticates the connection', async () => {
      const c = await connect(`${srv.url}/?token=${token}`);
      assert.deepEqual((await me(c)).data.roles, ['ops', 'admin']);
      assert.equal((await profile(c)).data.user, 'carol');
      await c.close();
    });

    test('Authorization: Bearer authenticates the connection', async () => {
      const c = await connect(srv.url, { headers: { Authorization: `Bearer ${token}` } });
      assert.equal((await me(c)).data.user, 'carol');
      await c.close();
      const lower = await connect(srv.url, { headers: { Authorization: `bearer ${token}` } });
      assert.equal((await me(lower)).data.user, 'carol');
      await lower.close();
    });

    test('a bad token at the handshake refuses the upgrade with HTTP 401', async () => {
      const bad = [`${token}x`, token.replace(/\.[^.]+$/, '.AAAA'), 'a.b.c', 'nonsense', `${token}.`];
      for (const t of bad) {
        let r = await handshake(`${srv.url}/?token=${t}`);
        assert.equal(r.status, 401, t);
        r = await handshake(srv.url, { headers: { Authorization: `Bearer ${t}` } });
        assert.equal(r.status, 401, t);
      }
      const r = await handshake(`${srv.url}/?token=${token.slice(0, -2)}AA`);
      assert.equal(r.status, 401);
      assert.match(r.body, /token signature does not match/);
      // A token longer than any fixed buffer is still a token (and a bad one).
      const long = `${token}${'A'.repeat(3000)}`;
      assert.equal((await handshake(`${srv.url}/?x=1&token=${long}`)).status, 401);
      assert.equal((await handshake(srv.url, { headers: { Authorization: `Bearer ${long}` } })).status, 401);
      // ... and a good one after another argument works.
      const ok = await handshake(`${srv.url}/?x=1&token=${token}`);
      assert.equal(ok.status, 101);
      ok.ws.close();
      // Without a token the upgrade is anonymous, as before.
      const c = await connect(srv.url);
      assert.equal((await profile(c)).status, 401);
      await c.close();
    });

    test('POST /auth/session with data {token} authenticates the connection', async () => {
      const c = await connect(srv.url);
      const r = await c.request({ method: 'POST', url: '/auth/session', data: { token } });
      assert.equal(r.status, 200, r._raw.text);
      assert.deepEqual(r.data, { user: 'carol', roles: ['ops', 'admin'], expires_at: unb64u(token.split('.')[1]).exp });
      assert.equal((await profile(c)).data.user, 'carol');
      // A bad one is a 401 that leaves the session as it was.
      const bad = await c.request({ method: 'POST', url: '/auth/session', data: { token: 'a.b.c' } });
      assert.equal(bad._raw.text,
        '{"status":401,"detail":"token header is not base64url of a JSON object","event_name":null}');
      assert.equal((await profile(c)).data.user, 'carol');
      const none = await c.request({ method: 'POST', url: '/auth/session', data: {} });
      assert.equal(none.status, 422);
      assert.deepEqual(none.errors, { token: "is required in data (or as the request's token)" });
      // The request's own token member, when data has none.
      const anon2 = await connect(srv.url);
      const viaMember = await anon2.request({ method: 'POST', url: '/auth/session', token });
      assert.equal(viaMember.status, 200, viaMember._raw.text);
      assert.equal((await profile(anon2)).data.user, 'carol');
      await anon2.close();
      await c.close();
    });

    test('a token signed with another secret is a 401 "token signature does not match"', async () => {
      const forged = mint(randomBytes(32), claimsFor('alice', { roles: 'admin' }));
      let r = await anon.request({ method: 'POST', url: '/auth/session', data: { token: forged } });
      assert.equal(r._raw.text, '{"status":401,"detail":"token signature does not match","event_name":null}');
      r = await anon.request({ cmd: 'admin', token: forged });
      assert.equal(r.status, 401);
      assert.equal(r.detail, "the request's token is not valid: token signature does not match");
      assert.equal((await handshake(`${srv.url}/?token=${forged}`)).status, 401);
      assert.equal((await handshake(srv.url, { headers: { Authorization: `Bearer ${forged}` } })).status, 401);
      assert.equal((await profile(anon)).status, 401);
    });

    test('alg none (any spelling) is a 401', async () => {
      for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
        const unsigned = `${b64u({ alg, typ: 'JWT' })}.${b64u(claimsFor('alice', { roles: 'admin' }))}.`;
        const r = await anon.request({ method: 'POST', url: '/auth/session', data: { token: unsigned } });
        assert.equal(r.status, 401);
        assert.equal(r.detail, `token algorithm ${alg} is not accepted (only HS256)`);
        const m = await anon.request({ cmd: 'admin', token: unsigned });
        assert.equal(m.status, 401);
        assert.equal((await handshake(`${srv.url}/?token=${unsigned}`)).status, 401);
      }
      // RFC 7515 A.5 verbatim.
      const a5 = 'eyJhbGciOiJub25lIn0.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.';
      const r = await anon.request({ method: 'POST', url: '/auth/session', data: { token: a5 } });
      assert.equal(r.detail, 'token algorithm none is not accepted (only HS256)');
    });
  });

  describe('logout', () => {
    test('revokes the token: its other connections close 1008, this one stays, anonymous', async () => {
      const c1 = await connect(srv.url);
      const t = (await login(c1, 'alice', PW.alice)).data.token;
      const viaUrl = await connect(`${srv.url}/?token=${t}`);
      const viaHeader = await connect(srv.url, { headers: { Authorization: `Bearer ${t}` } });
      const viaSession = await connect(srv.url);
      assert.equal((await viaSession.request({ method: 'POST', url: '/auth/session', data: { token: t } })).status, 200);
      const other = await connect(srv.url);
      const otherToken = (await login(other, 'alice', PW.alice)).data.token;
      for (const c of [viaUrl, viaHeader, viaSession]) assert.equal((await me(c)).data.user, 'alice');

      const out = await c1.request({ method: 'POST', url: '/auth/logout' });
      assert.equal(out._raw.text, '{"status":200,"data":null,"event_name":null}');
      // At once: the token works nowhere, not even on connections not closed yet.
      assert.ok([401, 'closed'].includes(await statusOrClosed(viaHeader, { cmd: 'profile' })),
        'a request right after the logout was served');
      const t0 = performance.now();
      for (const c of [viaUrl, viaHeader, viaSession]) {
        const closed = await closedWithin(c, 3000, 'the close of a connection using the revoked token');
        assert.deepEqual(closed, { code: 1008, reason: 'token revoked' });
      }
      assert.ok(performance.now() - t0 < 3000);
      // The logging-out connection stays open, anonymous.
      assert.equal((await profile(c1))._raw.text, `{"status":401,"detail":"${NEED_AUTH}","event_name":null}`);
      assert.equal((await c1.request({ cmd: 'ping' })).data, 'PONG');
      assert.ok(await staysOpen(c1, 2500), 'the logging-out connection was closed');
      assert.equal((await c1.request({ cmd: 'ping' })).data, 'PONG');
      // The token is refused everywhere, with its sentence.
      let r = await anon.request({ method: 'POST', url: '/auth/session', data: { token: t } });
      assert.equal(r._raw.text, '{"status":401,"detail":"token was revoked","event_name":null}');
      r = await anon.request({ cmd: 'ping', token: t });
      assert.equal(r.detail, "the request's token is not valid: token was revoked");
      assert.equal((await handshake(`${srv.url}/?token=${t}`)).status, 401);
      assert.equal((await handshake(srv.url, { headers: { Authorization: `Bearer ${t}` } })).status, 401);
      r = await c1.request({ method: 'POST', url: '/auth/logout', token: t });
      assert.equal(r.status, 401);
      // Alice's other token is another token: untouched.
      assert.equal((await me(other)).data.user, 'alice');
      assert.equal((await me(anon, { token: otherToken })).data.user, 'alice');
      assert.ok(await staysOpen(other, 100));
      await other.close();
      await c1.close();
    });

    test('logout needs authentication; logging out with a token member revokes that token', async () => {
      const r = await anon.request({ method: 'POST', url: '/auth/logout' });
      assert.equal(r.detail, 'route logout requires authentication: log in or send a token');
      const c = await connect(srv.url);
      const t = (await login(await connect(srv.url), 'bob', PW.bob)).data.token;
      const holder = await connect(`${srv.url}/?token=${t}`);
      assert.equal((await c.request({ method: 'POST', url: '/auth/logout', token: t })).status, 200);
      assert.deepEqual(await closedWithin(holder, 3000, 'the close'), { code: 1008, reason: 'token revoked' });
      assert.equal((await me(c, { token: t })).status, 401);
      assert.ok(await staysOpen(c, 100));
      await c.close();
    });
  });

  test('user remove from the CLI while the server runs ends their tokens within seconds', async () => {
    const byLogin = await connect(srv.url);
    const t = (await login(byLogin, 'carol', PW.carol)).data.token;
    const byHandshake = await connect(`${srv.url}/?token=${t}`);
    const bob = await connect(srv.url);
    await login(bob, 'bob', PW.bob);
    assert.equal((await me(byHandshake)).data.user, 'carol');
    const r = cli(['remove', 'carol', '--store', store.path]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'user carol removed; their tokens stop working within seconds\n');
    const t0 = performance.now();
    for (const c of [byLogin, byHandshake]) {
      assert.deepEqual(await closedWithin(c, 5000, "the close of a removed user's connection"),
        { code: 1008, reason: 'token revoked' });
    }
    const took = performance.now() - t0;
    assert.ok(took < 5000, `${took} ms`);
    let s = await anon.request({ method: 'POST', url: '/auth/session', data: { token: t } });
    assert.equal(s.detail, 'token was revoked');
    assert.equal((await handshake(`${srv.url}/?token=${t}`)).status, 401);
    s = await login(anon, 'carol', PW.carol);
    assert.equal(s.detail, 'wrong username or password');
    // Others are untouched.
    assert.ok(await staysOpen(bob, 100));
    assert.equal((await me(bob)).data.user, 'bob');
    assert.equal(cli(['remove', 'carol', '--store', store.path]).stderr, 'wsrouterd: no user carol\n');
    await bob.close();
  });

  test('20 concurrent logins while ping latency on another connection stays low', async (t) => {
    const pinger = await connect(srv.url);
    const clients = await Promise.all(Array.from({ length: 20 }, () => connect(srv.url)));
    const rtts = [];
    let loggingIn = true;
    const pinging = (async () => {
      while (loggingIn) {
        const t0 = performance.now();
        const r = await pinger.request({ cmd: 'ping' });
        rtts.push(performance.now() - t0);
        assert.equal(r.data, 'PONG');
        await sleep(5);
      }
    })();
    await sleep(50);
    const t0 = performance.now();
    const replies = await Promise.all(clients.map((c) => login(c, 'alice', PW.alice, 150000)));
    const wall = performance.now() - t0;
    loggingIn = false;
    await pinging;
    for (const r of replies) assert.equal(r.status, 200, r._raw.text);
    assert.equal(new Set(replies.map((r) => r.data.token)).size, 20);
    for (const c of clients) assert.equal((await me(c)).data.user, 'alice');
    rtts.sort((a, b) => a - b);
    const pct = (q) => rtts[Math.min(rtts.length - 1, Math.floor(q * rtts.length))];
    const msg = `20 logins: wall ${wall.toFixed(0)} ms; ping during them: n=${rtts.length}, `
      + `p50 ${pct(0.5).toFixed(2)} ms, p99 ${pct(0.99).toFixed(2)} ms, max ${rtts.at(-1).toFixed(2)} ms`;
    t.diagnostic(msg);
    console.log(`# ${msg}`);
    assert.ok(rtts.length >= 20, msg);
    // One PBKDF2 is ~300 ms: hashing on the event loop would show here.
    assert.ok(pct(0.99) < 100, msg);
    for (const c of clients) await c.close();
    await pinger.close();
  });

  test('a refused handshake does not pass its token to the next connection', async () => {
    const s2 = await startServer(['--store', store.path, '--modules', 'all', '--io-threads', '1',
      '--origins', 'http://good.example']);
    try {
      const c = await connect(s2.url);
      const t = (await login(c, 'alice', PW.alice)).data.token;
      assert.equal((await handshake(`${s2.url}/?token=${t}`, { origin: 'http://evil.example' })).status, 403);
      const next = await connect(s2.url);
      assert.equal((await me(next)).status, 401, 'an anonymous connection is authenticated as alice');
      await next.close();
      await c.close();
    } finally {
      await s2.stop();
    }
  });
});

// ---------------------------------------------------------------------------
describe('tokens minted with a configured secret', () => {
  const secret = 'test-secret-that-is-at-least-32-bytes-long!';
  const store = tempStore();
  let srv;
  let anon;

  before(async () => {
    userAdd(store.path, 'dora', 'dora-password-4', ['admin']);
    srv = await startServer(['--store', store.path, '--modules', 'all', '--set', `jwt_secret=${secret}`,
      '--set', 'token_ttl_s=60']);
    anon = await connect(srv.url);
  });

  after(async () => {
    await anon?.close().catch(() => {});
    const { code } = await srv.stop();
    assert.equal(code, 0, srv.stderr());
    store.remove();
  });

  test('the server signs with the configured secret and token_ttl_s', async () => {
    const c = await connect(srv.url);
    const r = await login(c, 'dora', 'dora-password-4');
    assert.equal(r.status, 200);
    const [h, p, s] = r.data.token.split('.');
    assert.equal(createHmac('sha256', secret).update(`${h}.${p}`).digest('base64url'), s);
    const claims = unb64u(p);
    assert.equal(claims.exp - claims.iat, 60);
    await c.close();
  });

  test('a token minted here with the secret works like a login', async () => {
    const t = mint(secret, claimsFor('zoe', { roles: 'admin,ops' }));
    const c = await connect(`${srv.url}/?token=${t}`);
    assert.deepEqual((await me(c)).data.roles, ['admin', 'ops']);
    assert.equal((await c.request({ cmd: 'admin' })).status, 200);
    await c.close();
    // Claims wsrouterd needs: sub, jti, an integer iat; exp.
    const { jti, ...noJti } = claimsFor('zoe');
    let r = await anon.request({ method: 'POST', url: '/auth/session', data: { token: mint(secret, noJti) } });
    assert.equal(r.detail, 'token lacks a subject, an id or an issue time');
    const { exp, ...noExp } = claimsFor('zoe');
    r = await anon.request({ method: 'POST', url: '/auth/session', data: { token: mint(secret, noExp) } });
    assert.equal(r.detail, 'token has no expiry (exp)');
    const nbf = nowS() + 100;
    r = await anon.request({ method: 'POST', url: '/auth/session', data: { token: mint(secret, claimsFor('zoe', { nbf })) } });
    assert.equal(r.detail, `token is not valid before ${isoS(nbf)}`);
    r = await anon.request({ method: 'POST', url: '/auth/session', data: { token: mint(secret, claimsFor('zoe'), { alg: 'HS512' }) } });
    assert.equal(r.detail, 'token algorithm HS512 is not accepted (only HS256)');
    r = await anon.request({ method: 'POST', url: '/auth/session', data: { token: mint(secret, claimsFor('zoe'), { alg: 'HS256', crit: ['exp'] }) } });
    assert.equal(r.detail, 'token header has critical parameters this server ignores');
  });

  test('a token that expires closes its connections with 1008 "token expired"', async () => {
    const iat = nowS();
    const exp = iat + 2;
    const t = mint(secret, claimsFor('zoe', { iat, ttl: 2 }));
    const viaUrl = await connect(`${srv.url}/?token=${t}`);
    const viaSession = await connect(srv.url);
    assert.equal((await viaSession.request({ method: 'POST', url: '/auth/session', data: { token: t } })).data.expires_at, exp);
    assert.equal((await me(viaUrl)).data.user, 'zoe');
    for (const c of [viaUrl, viaSession]) {
      const closed = await closedWithin(c, 6000, 'the close of an expired connection');
      const late = Date.now() - exp * 1000;
      assert.deepEqual(closed, { code: 1008, reason: 'token expired' });
      assert.ok(late >= -50 && late < 3000, `closed ${late} ms after expiry`);
    }
    // Expired now: refused everywhere.
    const r = await anon.request({ method: 'POST', url: '/auth/session', data: { token: t } });
    assert.equal(r.detail, `token expired at ${isoS(exp)}`);
    assert.equal((await handshake(`${srv.url}/?token=${t}`)).status, 401);
  });

  test('an already expired token is refused', async () => {
    const exp = nowS() - 1;
    const t = mint(secret, claimsFor('zoe', { iat: exp - 60, ttl: 60 }));
    const h = await handshake(`${srv.url}/?token=${t}`);
    assert.equal(h.status, 401);
    assert.match(h.body, new RegExp(`token expired at ${isoS(exp)}`));
    let r = await anon.request({ method: 'POST', url: '/auth/session', data: { token: t } });
    assert.equal(r._raw.text, `{"status":401,"detail":"token expired at ${isoS(exp)}","event_name":null}`);
    r = await anon.request({ cmd: 'profile', token: t });
    assert.equal(r.detail, `the request's token is not valid: token expired at ${isoS(exp)}`);
  });

  // The store is kept busy by the sqlite3 program (make test-deps installs it).
  test('a logout slowed by a busy store does not close the connection that logs out', async () => {
    assert.equal(spawnSync('sqlite3', ['--version']).status, 0, 'the sqlite3 program is missing');
    const t = mint(secret, claimsFor('zoe'));
    const c = await connect(srv.url);
    assert.equal((await c.request({ method: 'POST', url: '/auth/session', data: { token: t } })).status, 200);
    const holder = await connect(`${srv.url}/?token=${t}`);
    // Another process holds the store's write lock for 2.5 s: the logout's
    // revocation is in force at once, its store write waits for the lock.
    const locker = spawn('sqlite3', [store.path], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    locker.stdout.on('data', (d) => { out += d; });
    const lockerExit = new Promise((r) => locker.once('exit', r));
    try {
      locker.stdin.write('BEGIN IMMEDIATE;\n.print locked\n');
      await withTimeout(new Promise((r) => {
        const check = () => (out.includes('locked') ? r() : setTimeout(check, 10));
        check();
      }), 5000, 'sqlite3 to take the lock');
      const reply = c.request({ method: 'POST', url: '/auth/logout' }, 10000);
      // Other connections using the token close meanwhile...
      assert.deepEqual(await closedWithin(holder, 2500, 'the close'), { code: 1008, reason: 'token revoked' });
      await sleep(1200); // ...two checks of the loop at least
      locker.stdin.end();
      await withTimeout(lockerExit, 5000, 'sqlite3 to exit');
      // ...this one answers and stays, anonymous.
      assert.equal((await reply)._raw.text, '{"status":200,"data":null,"event_name":null}');
      assert.ok(await staysOpen(c, 100), 'the logging-out connection was closed');
      assert.equal((await profile(c)).detail, NEED_AUTH);
      assert.equal((await anon.request({ cmd: 'profile', token: t })).status, 401);
    } finally {
      locker.kill();
    }
    await c.close();
  });

  test('many logouts in a row never close the connection that logs out', async () => {
    // Each cycle: a fresh token attaches the connection, logout revokes it.
    // The revocation is in force before the loop hears of the logout; the
    // loop's once-a-second check must not close this connection meanwhile.
    const c = await connect(srv.url);
    for (let i = 0; i < 150; i++) {
      const t = mint(secret, claimsFor('zoe'));
      const s = await c.request({ method: 'POST', url: '/auth/session', data: { token: t } });
      assert.equal(s.status, 200, s._raw.text);
      const out = await c.request({ method: 'POST', url: '/auth/logout' });
      assert.equal(out.status, 200, `logout ${i}: ${out._raw.text}`);
    }
    assert.ok(await staysOpen(c, 1500), 'the logging-out connection was closed');
    assert.equal((await profile(c)).status, 401);
    await c.close();
  });
});

// ---------------------------------------------------------------------------
describe('POST /auth/refresh', () => {
  const secret = 'refresh-secret-that-is-at-least-32-bytes!';
  const store = tempStore();
  const PW = 'gina-password-7';
  let srv;
  let anon;
  const refresh = (c, extra = {}) => c.request({ method: 'POST', url: '/auth/refresh', ...extra });

  before(async () => {
    userAdd(store.path, 'gina', PW, ['admin']);
    srv = await startServer(['--store', store.path, '--modules', 'all', '--set', `jwt_secret=${secret}`]);
    anon = await connect(srv.url);
  });

  after(async () => {
    await anon?.close().catch(() => {});
    const { code } = await srv.stop();
    assert.equal(code, 0, srv.stderr());
    store.remove();
  });

  test('answers a new token of the same login; the connection goes on with it', async () => {
    const c = await connect(srv.url);
    const first = (await login(c, 'gina', PW)).data;
    await sleep(1100); // a new iat and exp
    const r = await refresh(c);
    assert.equal(r.status, 200, r._raw.text);
    assert.deepEqual(Object.keys(r.data).sort(), ['expires_at', 'roles', 'token', 'user']);
    assert.equal(r.data.user, 'gina');
    assert.deepEqual(r.data.roles, ['admin']);
    assert.ok(r.data.expires_at > first.expires_at, `${r.data.expires_at} after ${first.expires_at}`);
    const [a, b] = [unb64u(first.token.split('.')[1]), unb64u(r.data.token.split('.')[1])];
    assert.equal(b.sid, a.sid);
    assert.notEqual(b.jti, a.jti);
    assert.equal(b.exp, r.data.expires_at);
    // The connection is authenticated with the new token...
    assert.equal((await me(c)).data.expires_at, r.data.expires_at);
    // ...and the old one is not revoked: it works until its own exp.
    assert.equal((await me(anon, { token: first.token })).data.user, 'gina');
    assert.equal((await me(anon, { token: r.data.token })).data.user, 'gina');
    await c.close();
  });

  test("a request's token is refreshed and authenticates the connection", async () => {
    const t = (await login(await connect(srv.url), 'gina', PW)).data.token;
    const c = await connect(srv.url);
    const r = await refresh(c, { token: t });
    assert.equal(r.status, 200, r._raw.text);
    assert.equal((await me(c)).data.user, 'gina');
    assert.equal((await me(c)).data.expires_at, r.data.expires_at);
    await c.close();
  });

  test('needs a valid token: anonymous, expired or revoked is a 401', async () => {
    let r = await refresh(anon);
    assert.equal(r._raw.text,
      '{"status":401,"detail":"route refresh requires authentication: log in or send a token","event_name":null}');
    const exp = nowS() - 1;
    const expired = mint(secret, claimsFor('gina', { iat: exp - 60, ttl: 60 }));
    r = await refresh(anon, { token: expired });
    assert.equal(r.status, 401);
    assert.equal(r.detail, `the request's token is not valid: token expired at ${isoS(exp)}`);
    // A token of a user who does not exist (minted with the secret).
    r = await refresh(anon, { token: mint(secret, claimsFor('nobody')) });
    assert.equal(r._raw.text, '{"status":401,"detail":"user nobody no longer exists","event_name":null}');
  });

  test('a logout after a refresh ends the refreshed token and the one before', async () => {
    const c = await connect(srv.url);
    const old = (await login(c, 'gina', PW)).data.token;
    const holder = await connect(`${srv.url}/?token=${old}`);
    const fresh = (await refresh(c)).data.token;
    assert.equal((await c.request({ method: 'POST', url: '/auth/logout' })).status, 200);
    assert.deepEqual(await closedWithin(holder, 3000, 'the close'), { code: 1008, reason: 'token revoked' });
    for (const t of [old, fresh]) {
      const r = await anon.request({ method: 'POST', url: '/auth/session', data: { token: t } });
      assert.equal(r._raw.text, '{"status":401,"detail":"token was revoked","event_name":null}');
    }
    assert.equal((await refresh(anon, { token: fresh })).status, 401);
    assert.ok(await staysOpen(c, 100));
    await c.close();
  });

  test('a connection refreshed before its token expires stays open past that expiry', async () => {
    const iat = nowS();
    const t = mint(secret, claimsFor('gina', { iat, ttl: 3, roles: ['admin'] }));
    const kept = await connect(`${srv.url}/?token=${t}`);
    const lapsed = await connect(`${srv.url}/?token=${t}`);
    const r = await refresh(kept);
    assert.equal(r.status, 200, r._raw.text);
    // The one not refreshed closes as before, 1008 "token expired".
    assert.deepEqual(await closedWithin(lapsed, 6000, 'the close'), { code: 1008, reason: 'token expired' });
    assert.ok(await staysOpen(kept, 500));
    assert.equal((await me(kept)).data.expires_at, r.data.expires_at);
    await kept.close();
  });
});

// ---------------------------------------------------------------------------
test('counters and tokens survive kill -9 (the store is durable when a 200 is sent)', async () => {
  const store = tempStore();
  try {
    userAdd(store.path, 'erin', 'erin-password-5');
    let token;
    let expected = 0;
    for (let round = 0; round < 3; round++) {
      const srv = await startServer(['--store', store.path, '--modules', 'all']);
      const c = await connect(round === 0 ? srv.url : `${srv.url}/?token=${token}`);
      if (round === 0) {
        token = (await login(c, 'erin', 'erin-password-5')).data.token;
      } else {
        // The generated secret was kept in the store: the token still works.
        assert.equal((await me(c)).data.user, 'erin');
        const g = await c.request({ method: 'GET', url: '/counters/kill9' });
        assert.equal(g._raw.text, `{"status":200,"data":${expected},"event_name":null}`);
      }
      for (let i = 0; i < 5; i++) {
        const r = await c.request({ method: 'POST', url: '/counters/kill9/increment' });
        expected += 1;
        assert.equal(r._raw.text, `{"status":200,"data":${expected},"event_name":null}`);
      }
      const stopped = await srv.stop('SIGKILL');
      assert.equal(stopped.signal, 'SIGKILL');
      c.terminate();
    }
    const srv = await startServer(['--store', store.path, '--modules', 'all']);
    const c = await connect(srv.url);
    const g = await c.request({ method: 'GET', url: '/counters/kill9' });
    assert.equal(g._raw.text, `{"status":200,"data":15,"event_name":null}`);
    await c.close();
    assert.equal((await srv.stop()).code, 0, srv.stderr());
  } finally {
    store.remove();
  }
});

test('tokens and passwords never appear in the logs, even at debug level', async () => {
  const store = tempStore();
  const password = 'fern-secret-password-6';
  try {
    userAdd(store.path, 'fern', password, ['admin']);
    const srv = await startServer(['--store', store.path, '--modules', 'all', '--log-level', 'debug']);
    const c = await connect(srv.url);
    const t = (await login(c, 'fern', password)).data.token;
    assert.equal((await login(c, 'fern', `${password}-wrong`)).status, 401);
    const viaUrl = await connect(`${srv.url}/?token=${t}`);
    const viaHeader = await connect(srv.url, { headers: { Authorization: `Bearer ${t}` } });
    assert.equal((await me(viaUrl)).data.user, 'fern');
    assert.equal((await me(viaHeader)).data.user, 'fern');
    assert.equal((await profile(c, { token: t })).status, 200);
    assert.equal((await c.request({ method: 'POST', url: '/auth/session', data: { token: t } })).status, 200);
    assert.equal((await handshake(`${srv.url}/?token=${t}x`)).status, 401);
    assert.equal((await c.request({ method: 'POST', url: '/auth/logout' })).status, 200);
    for (const x of [viaUrl, viaHeader]) await closedWithin(x, 3000, 'the close');
    await c.close();
    const { code } = await srv.stop();
    assert.equal(code, 0);
    const logs = srv.stderr() + srv.stdout();
    assert.ok(logs.includes('[info] conn#'), 'the debug log was written');
    // What an operator needs is there: the login, the failed one, the refused handshake.
    assert.match(logs, /\[info\] login: fern from 127\.0\.0\.1 \(conn#/);
    assert.match(logs, /\[notice\] failed login: fern from 127\.0\.0\.1 \(conn#/);
    assert.match(logs, /\[notice\] handshake from 127\.0\.0\.1 refused 401: /);
    assert.match(logs, /\[info\] access conn#\S+ 127\.0\.0\.1 fern "POST \/auth\/logout" 200 /);
    const [, payload, sig] = t.split('.');
    for (const secret of [password, t, payload, sig]) {
      assert.ok(!logs.includes(secret), `the log holds ${secret.slice(0, 12)}...`);
    }
  } finally {
    store.remove();
  }
});
