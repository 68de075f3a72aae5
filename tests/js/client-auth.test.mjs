// SPDX-License-Identifier: MIT
// The JavaScript client's token keeping (www/wsrouter.js: getToken, refresh,
// refreshAt, login, logout) in Node against the real wsrouterd: renewal
// before expiry with /auth/refresh and with a getToken() of the
// application's, the connection authenticated with /auth/session before
// anything else after each (re)connection, requests that waited in the queue
// sent with the renewed token, and failures reported as error events. The
// `ws` package is the WebSocket class, wrapped to record what is sent.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import WebSocket from 'ws';
import { WSRD, startServer, withTimeout, waitFor } from './harness.mjs';
import { WsRouter } from '../../www/wsrouter.js';

const SECRET = 'client-auth-secret-at-least-32-bytes-long';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nowS = () => Math.floor(Date.now() / 1000);
const b64u = (x) => Buffer.from(JSON.stringify(x)).toString('base64url');
const claimsOf = (t) => JSON.parse(Buffer.from(t.split('.')[1], 'base64url').toString());

/** An HS256 token of ours, minted here with the configured secret. */
function mint(sub, ttl, roles = []) {
  const iat = nowS();
  const input = `${b64u({ alg: 'HS256', typ: 'JWT' })}.${b64u({ sub, iat, exp: iat + ttl, jti: randomBytes(16).toString('base64url'), roles })}`;
  return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
}

/** A WebSocket class that records every message sent (parsed). */
function recording() {
  const sent = [];
  class Recording extends WebSocket {
    send(data, ...rest) {
      sent.push(JSON.parse(data));
      return super.send(data, ...rest);
    }
  }
  return { sent, WebSocket: Recording };
}

const urls = (sent) => sent.map((m) => m.url ?? m.cmd);

describe('a client that keeps its token', () => {
  let srv;
  const clients = [];

  before(async () => {
    srv = await startServer(['--modules', 'all', '--set', `jwt_secret=${SECRET}`]);
  });

  after(async () => {
    for (const c of clients) await c.close();
    const { code } = await srv.stop();
    assert.equal(code, 0, srv.stderr());
  });

  test('getToken: called at the open, sent with /auth/session before the queued requests, renewed before expiry', async () => {
    const { sent, WebSocket: WS } = recording();
    const given = [];
    const c = new WsRouter(`${srv.url}/`, {
      WebSocket: WS,
      getToken: async () => {
        await sleep(20);
        const t = mint('ivy', 3, ['admin']);
        given.push(t);
        return t;
      },
    });
    clients.push(c);
    const tokens = [];
    c.addEventListener('token', (ev) => tokens.push(ev.detail));
    const closes = [];
    c.addEventListener('close', (ev) => closes.push(ev.detail));
    // Made before the open: waits, then goes out with the token given.
    const early = c.get('/auth/me');
    await c.ready;
    const me = await withTimeout(early, 5000, 'the early request');
    assert.equal(me.user, 'ivy');
    assert.equal(given.length, 1);
    assert.deepEqual(urls(sent).slice(0, 2), ['/auth/session', '/auth/me']);
    assert.deepEqual(sent[0].data, { token: given[0] });
    assert.equal(sent[1].token, given[0]);
    assert.equal(tokens[0].source, 'getToken');
    assert.equal(tokens[0].expiresAt, claimsOf(given[0]).exp);
    // At 80 % of its 3 s: a new one, sent with /auth/session.
    await waitFor(() => given.length >= 2, 5000, 'the renewal');
    await waitFor(() => sent.filter((m) => m.url === '/auth/session').length >= 2, 2000, 'the second session');
    assert.deepEqual(sent.filter((m) => m.url === '/auth/session')[1].data, { token: given[1] });
    assert.equal(c.token, given[1]);
    // The connection outlives the first token's expiry (the server would close it 1008).
    await sleep(Math.max(0, claimsOf(given[0]).exp * 1000 - Date.now()) + 1200);
    assert.deepEqual(closes, []);
    assert.equal((await c.get('/auth/me')).user, 'ivy');
    assert.equal(sent.at(-1).token, c.token);
  });

  test('getToken that fails is an error event, tried again', async () => {
    let calls = 0;
    const c = await WsRouter.connect(`${srv.url}/`, {
      WebSocket,
      token: mint('jo', 2),
      refreshAt: 0.5,
      getToken: async () => {
        calls += 1;
        if (calls === 1) throw new Error('the identity provider is down');
        return calls === 2 ? '' : mint('jo', 60);
      },
    });
    clients.push(c);
    const errors = [];
    c.addEventListener('error', (ev) => errors.push(ev.detail.error));
    await waitFor(() => calls >= 3, 8000, 'three calls');
    assert.equal(errors[0].message, 'the identity provider is down');
    assert.equal(errors[1].code, 'ENOTOKEN');
    assert.equal(errors[1].detail, 'getToken() gave no token');
    await waitFor(() => claimsOf(c.token).exp > nowS() + 30, 2000, 'the good token');
    assert.equal((await c.get('/auth/me')).user, 'jo');
  });
});

describe('refresh: true', () => {
  let srv;
  let store;

  before(async () => {
    store = join(mkdtempSync(join(tmpdir(), 'wsrd-client-auth-')), 'wsrouter.db');
    const r = spawnSync(WSRD, ['user', 'add', 'hana', '--role', 'admin', '--store', store],
      { input: 'hana-password-8\n', encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    srv = await startServer(['--store', store, '--modules', 'all', '--set', `jwt_secret=${SECRET}`, '--set', 'token_ttl_s=60']);
  });

  after(async () => {
    const { code } = await srv.stop();
    assert.equal(code, 0, srv.stderr());
    rmSync(dirname(store), { recursive: true, force: true });
  });

  test('login() keeps the token; it is renewed with /auth/refresh; reconnection re-authenticates', async () => {
    const { sent, WebSocket: WS } = recording();
    // token_ttl_s is at least 60: renew at 3 % of it, after about 1.8 s.
    const c = await WsRouter.connect(`${srv.url}/`, { WebSocket: WS, refresh: true, refreshAt: 0.03,
      reconnectDelay: 20, reconnectMaxDelay: 200 });
    try {
      const who = await c.login('hana', 'hana-password-8');
      assert.deepEqual(who.roles, ['admin']);
      assert.equal(c.token, who.token);
      const renewed = await withTimeout(new Promise((resolve) => {
        c.addEventListener('token', (ev) => resolve(ev.detail), { once: true });
      }), 6000, 'the refresh');
      assert.equal(renewed.source, 'refresh');
      assert.notEqual(renewed.token, who.token);
      assert.equal(claimsOf(renewed.token).sid, claimsOf(who.token).sid);
      assert.equal(c.token, renewed.token);
      const refresh = sent.find((m) => m.url === '/auth/refresh');
      assert.equal(refresh.token, who.token);
      assert.equal((await c.get('/auth/me')).expires_at, renewed.expiresAt);

      // A restart on the same port: the first thing sent is /auth/session.
      const port = srv.port;
      const reopened = withTimeout(new Promise((resolve) => {
        c.addEventListener('open', (ev) => resolve(ev.detail), { once: true });
      }), 15000, 'the reconnection');
      await srv.stop();
      const before = sent.length;
      const queued = c.get('/auth/me');
      srv = await startServer(['--store', store, '--modules', 'all', '--set', `jwt_secret=${SECRET}`, '--set', 'token_ttl_s=60',
        '--port', String(port)]);
      assert.equal((await reopened).reconnected, true);
      assert.equal((await withTimeout(queued, 5000, 'the queued request')).user, 'hana');
      const after = sent.slice(before);
      assert.equal(after[0].url, '/auth/session');
      assert.equal(after[0].data.token, c.token);
      assert.equal(after[1].url, '/auth/me');

      // logout() forgets the token (the next refresh has none to send).
      assert.equal(await c.logout(), null);
      assert.equal(c.token, undefined);
      const m = await c.fetch({ method: 'GET', url: '/auth/me' });
      assert.equal(m.status, 401);
    } finally {
      await c.close();
    }
  });

  test('bad options are refused', () => {
    assert.throws(() => new WsRouter('ws://127.0.0.1:1/', { WebSocket, getToken: 'abc' }),
      /getToken must be a function that returns a token/);
    assert.throws(() => new WsRouter('ws://127.0.0.1:1/', { WebSocket, refreshAt: 1 }),
      /refreshAt must be a fraction between 0 and 1, not 1/);
  });
});
