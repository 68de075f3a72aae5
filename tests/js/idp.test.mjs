// SPDX-License-Identifier: MIT
// Tokens from an identity provider (PROTOCOL.md section 6) against the real
// wsrouterd: keys made by the `openssl` program in a temporary directory
// (RSA 2048 in a PEM file, EC P-256 in a JWKS), tokens signed here with
// node:crypto, accepted at the handshake, as a member and with /auth/session
// with their roles; refused with 401 and a sentence when tampered, signed
// by another key, from another issuer or for another audience, with the
// algorithm swapped (HS256 keyed with the public key), alg none, expired,
// not yet valid, or naming an unknown kid; logout and refresh of such
// tokens; expiry past the leeway; the SIGHUP reload of the JWKS that adds a
// key; and keys refused at start.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHmac, createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { WSRD, startServer, connect, withTimeout, waitFor } from './harness.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nowS = () => Math.floor(Date.now() / 1000);
const b64u = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');
const isoS = (s) => new Date(s * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
const ISS = 'https://idp.example/realms/test';
const AUD = 'wsrouter';

const dir = mkdtempSync(join(tmpdir(), 'wsrd-idp-'));
const path = (name) => join(dir, name);

/** Runs the openssl program; fails the test with its stderr. */
function openssl(...args) {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `openssl ${args.join(' ')}: ${r.stderr}`);
}

/** A key pair made by openssl: name.key (private) and name.pem (public). */
function makeKey(name, ...genArgs) {
  openssl('genpkey', ...genArgs, '-out', path(`${name}.key`));
  openssl('pkey', '-in', path(`${name}.key`), '-pubout', '-out', path(`${name}.pem`));
  return {
    priv: createPrivateKey(readFileSync(path(`${name}.key`))),
    pubPem: readFileSync(path(`${name}.pem`), 'utf8'),
  };
}
const rsaKey = (name, bits = 2048) => makeKey(name, '-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${bits}`);
const ecKey = (name, curve = 'P-256') => makeKey(name, '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${curve}`);

/** The public JWK of a key, with its kid and other members. */
const jwk = (key, kid, extra = {}) => ({ ...createPublicKey(key.pubPem).export({ format: 'jwk' }), kid, ...extra });

/** A JWS signed here: RS256 with an RSA key, ES256 (r||s) with an EC one. */
function jws(key, header, claims) {
  const input = `${b64u(header)}.${b64u(claims)}`;
  const sig = header.alg === 'ES256'
    ? sign('sha256', Buffer.from(input), { key: key.priv, dsaEncoding: 'ieee-p1363' })
    : sign('sha256', Buffer.from(input), key.priv);
  return `${input}.${sig.toString('base64url')}`;
}

function claims(extra = {}) {
  const iat = nowS();
  return { iss: ISS, aud: AUD, sub: 'u-1001', iat, exp: iat + 300, roles: ['admin'], ...extra };
}

/** Tries a handshake: 101 or the HTTP status and body of the refusal. */
function handshake(url, options = {}) {
  return withTimeout(new Promise((resolve, reject) => {
    const ws = new WebSocket(url, undefined, options);
    ws.once('open', () => { resolve({ status: 101 }); ws.close(); });
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.once('end', () => { resolve({ status: res.statusCode, body }); req.destroy(); });
    });
    ws.once('error', reject);
  }), 5000, 'the handshake');
}

const session = (c, token) => c.request({ method: 'POST', url: '/auth/session', data: { token } });
const me = (c, extra = {}) => c.request({ method: 'GET', url: '/auth/me', ...extra });

let rs;
let es;
let other;
before(() => {
  rs = rsaKey('idp-rs');
  es = ecKey('es');
  other = rsaKey('other');
  writeFileSync(path('idp.jwks'), JSON.stringify({ keys: [jwk(es, 'es-1', { use: 'sig', alg: 'ES256' })] }));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const idpArgs = (extra = []) => ['--modules', 'all', '--set', `jwt_keys=${path('idp-rs.pem')}`,
  '--set', `jwt_jwks=${path('idp.jwks')}`, '--set', `jwt_issuer=${ISS}`, '--set', `jwt_audience=${AUD}`, ...extra];

// ---------------------------------------------------------------------------
describe('a server that accepts RS256 and ES256 tokens of an identity provider', () => {
  let srv;
  let anon;

  before(async () => {
    srv = await startServer(idpArgs());
    anon = await connect(srv.url);
    assert.match(srv.stderr(), /identity-provider keys: 2 in force/);
  });

  after(async () => {
    await anon?.close().catch(() => {});
    const { code } = await srv.stop();
    assert.equal(code, 0, srv.stderr());
  });

  test('an RS256 token (kid from the PEM file name) authenticates everywhere a token does', async () => {
    const t = jws(rs, { alg: 'RS256', typ: 'JWT', kid: 'idp-rs' }, claims({ roles: ['admin', 'ops'] }));
    const viaUrl = await connect(`${srv.url}/?token=${t}`);
    let m = await me(viaUrl);
    assert.equal(m.status, 200, m._raw.text);
    assert.deepEqual({ user: m.data.user, roles: m.data.roles }, { user: 'u-1001', roles: ['admin', 'ops'] });
    assert.equal((await viaUrl.request({ cmd: 'admin' })).status, 200);
    await viaUrl.close();
    const viaHeader = await connect(srv.url, { headers: { Authorization: `Bearer ${t}` } });
    assert.equal((await me(viaHeader)).data.user, 'u-1001');
    await viaHeader.close();
    const viaSession = await connect(srv.url);
    const s = await session(viaSession, t);
    assert.equal(s.status, 200, s._raw.text);
    assert.equal((await me(viaSession)).data.user, 'u-1001');
    await viaSession.close();
    m = await me(anon, { token: t });
    assert.equal(m.data.user, 'u-1001');
    assert.equal((await me(anon)).status, 401);
  });

  test('an ES256 token from the JWKS, aud an array, roles a string', async () => {
    const t = jws(es, { alg: 'ES256', kid: 'es-1' }, claims({ aud: ['account', AUD], roles: 'viewer admin' }));
    const c = await connect(srv.url);
    const s = await session(c, t);
    assert.equal(s.status, 200, s._raw.text);
    assert.deepEqual(s.data.roles, ['viewer', 'admin']);
    // expires_at is when it stops being accepted: exp plus the leeway (30 s).
    const exp = JSON.parse(Buffer.from(t.split('.')[1], 'base64url')).exp;
    assert.equal(s.data.expires_at, exp + 30);
    assert.equal((await c.request({ cmd: 'admin' })).status, 200);
    await c.close();
  });

  test('refusals: 401 with a sentence, on every path', async () => {
    const good = claims();
    const pem = rs.pubPem;
    const hs = (header, body) => {
      const input = `${b64u(header)}.${b64u(body)}`;
      return `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
    };
    const tampered = jws(rs, { alg: 'RS256', kid: 'idp-rs' }, good).split('.');
    tampered[1] = b64u({ ...good, roles: ['admin', 'root'] });
    const exp = nowS() - 31;
    const nbf = nowS() + 120;
    const cases = [
      [tampered.join('.'), 'token signature does not match'],
      [jws(other, { alg: 'RS256', kid: 'idp-rs' }, good), 'token signature does not match'],
      [jws(rs, { alg: 'RS256', kid: 'idp-rs' }, claims({ iss: 'https://evil.example' })), `token issuer (iss) is not ${ISS}`],
      [jws(rs, { alg: 'RS256', kid: 'idp-rs' }, claims({ aud: 'another-app' })), `token audience (aud) does not include ${AUD}`],
      // The classic attack: HS256 keyed with the public key, naming the RSA key or no key.
      [hs({ alg: 'HS256', kid: 'idp-rs' }, good), 'token algorithm HS256 does not match key idp-rs, which is RS256'],
      [hs({ alg: 'HS256' }, good), 'token signature does not match'],
      [`${b64u({ alg: 'none', kid: 'idp-rs' })}.${b64u(good)}.`, 'token algorithm none is not accepted (only HS256, RS256 and ES256)'],
      [jws(es, { alg: 'ES256', kid: 'idp-rs' }, good), 'token algorithm ES256 does not match key idp-rs, which is RS256'],
      [jws(rs, { alg: 'RS256', kid: 'idp-rs' }, claims({ iat: exp - 300, exp })), `token expired at ${isoS(exp)}`],
      [jws(rs, { alg: 'RS256', kid: 'idp-rs' }, claims({ nbf })), `token is not valid before ${isoS(nbf)}`],
      [jws(rs, { alg: 'RS256', kid: 'rotated-away' }, good), 'token key id (kid) names no key of this server'],
      [jws(rs, { alg: 'RS256' }, good), 'token names no key id (kid), and this server has several keys'],
    ];
    for (const [t, sentence] of cases) {
      const r = await session(anon, t);
      assert.equal(r._raw.text, `{"status":401,"detail":${JSON.stringify(sentence)},"event_name":null}`);
      const m = await anon.request({ cmd: 'admin', token: t });
      assert.equal(m.status, 401);
      assert.equal(m.detail, `the request's token is not valid: ${sentence}`);
      const h = await handshake(`${srv.url}/?token=${t}`);
      assert.equal(h.status, 401, sentence);
      assert.ok(h.body.includes(sentence), `${sentence} in ${h.body}`);
    }
    // Expired, but within the leeway: accepted.
    const late = jws(rs, { alg: 'RS256', kid: 'idp-rs' }, claims({ exp: nowS() - 5 }));
    assert.equal((await session(anon, late)).status, 200);
    assert.equal((await me(anon)).status, 200);
    assert.equal((await anon.request({ method: 'POST', url: '/auth/logout' })).status, 200);
  });

  test('logout makes this connection anonymous; the token goes on working elsewhere', async () => {
    const t = jws(rs, { alg: 'RS256', kid: 'idp-rs' }, claims());
    const a = await connect(`${srv.url}/?token=${t}`);
    const b = await connect(`${srv.url}/?token=${t}`);
    const out = await a.request({ method: 'POST', url: '/auth/logout' });
    assert.equal(out._raw.text, '{"status":200,"data":null,"event_name":null}');
    assert.equal((await me(a)).status, 401);
    await sleep(1200); // the loop's check: b is not closed
    assert.equal((await me(b)).data.user, 'u-1001');
    assert.equal((await session(anon, t)).status, 200);
    await anon.request({ method: 'POST', url: '/auth/logout' });
    await a.close();
    await b.close();
  });

  test('refresh is refused: we cannot mint the identity provider\'s tokens', async () => {
    const t = jws(es, { alg: 'ES256', kid: 'es-1' }, claims());
    const r = await anon.request({ method: 'POST', url: '/auth/refresh', token: t });
    assert.equal(r._raw.text, '{"status":403,"detail":"a token from the identity provider cannot be '
      + 'refreshed here: get a new one from it and send it to /auth/session","event_name":null}');
  });

  test('SIGHUP reloads the JWKS: a key added is accepted, a broken file keeps the keys in force', async () => {
    const added = ecKey('added');
    const t = jws(added, { alg: 'ES256', kid: 'es-2' }, claims());
    const kept = jws(es, { alg: 'ES256', kid: 'es-1' }, claims());
    const holder = await connect(`${srv.url}/?token=${kept}`);
    assert.equal((await session(anon, t)).detail, 'token key id (kid) names no key of this server');
    writeFileSync(path('idp.jwks'), JSON.stringify({ keys: [jwk(es, 'es-1'), jwk(added, 'es-2'),
      { kty: 'RSA', kid: 'enc-1', use: 'enc', n: 'AQAB', e: 'AQAB' }] }));
    srv.proc.kill('SIGHUP');
    await waitFor(() => /identity-provider keys reloaded: 3 in force/.test(srv.stderr()), 5000, 'the reload');
    assert.match(srv.stderr(), /skipped key 3 \(kid enc-1\): its use is enc, not sig/);
    assert.equal((await session(anon, t)).status, 200);
    // A file that does not load: refused, logged, the keys in force kept.
    writeFileSync(path('idp.jwks'), '{"keys":[');
    srv.proc.kill('SIGHUP');
    await waitFor(() => /identity-provider keys not reloaded, the 3 in force kept: jwt_jwks \S+ is not JSON/.test(srv.stderr()),
      5000, 'the refusal');
    assert.equal((await session(anon, t)).status, 200);
    assert.equal((await me(holder)).data.user, 'u-1001'); // connections keep their sessions
    await holder.close();
    // Back to the first file for the other tests.
    writeFileSync(path('idp.jwks'), JSON.stringify({ keys: [jwk(es, 'es-1', { use: 'sig', alg: 'ES256' })] }));
  });
});

// ---------------------------------------------------------------------------
test('a connection whose identity-provider token expires is closed 1008 at exp plus the leeway', async () => {
  const srv = await startServer(idpArgs(['--set', 'jwt_leeway_s=1']));
  try {
    const exp = nowS() + 2;
    const t = jws(rs, { alg: 'RS256', kid: 'idp-rs' }, claims({ exp }));
    const c = await connect(`${srv.url}/?token=${t}`);
    assert.equal((await me(c)).data.expires_at, exp + 1);
    const closed = await withTimeout(c.closed, 7000, 'the close');
    const late = Date.now() - (exp + 1) * 1000;
    assert.deepEqual(closed, { code: 1008, reason: 'token expired' });
    assert.ok(late >= -50 && late < 3000, `closed ${late} ms after exp + leeway`);
  } finally {
    assert.equal((await srv.stop()).code, 0, srv.stderr());
  }
});

test('a roles claim by path (realm_access.roles), and no iss/aud required when none is set', async () => {
  const srv = await startServer(['--modules', 'all', '--set', `jwt_keys=${path('idp-rs.pem')}`,
    '--set', 'jwt_roles_claim=realm_access.roles']);
  try {
    const t = jws(rs, { alg: 'RS256' }, { sub: 'kc-user', exp: nowS() + 60, realm_access: { roles: ['admin'] } });
    const c = await connect(srv.url);
    const s = await session(c, t);
    assert.equal(s.status, 200, s._raw.text);
    assert.deepEqual(s.data.roles, ['admin']);
    await c.close();
  } finally {
    assert.equal((await srv.stop()).code, 0, srv.stderr());
  }
});

test('keys the server cannot trust refuse the start, with the reason', () => {
  rsaKey('weak', 1024);
  ecKey('p384', 'P-384');
  const run = (...set) => spawnSync(WSRD, ['--port', '0', '--store', path('s.db'), ...set.flatMap((x) => ['--set', x])],
    { encoding: 'utf8', timeout: 20000 });
  let r = run(`jwt_keys=${path('weak.pem')}`);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /jwt_keys \S+weak\.pem: an RSA key of 1024 bits is too small \(2048 at least\)/);
  r = run(`jwt_keys=${path('p384.pem')}`);
  assert.match(r.stderr, /an EC key on curve secp384r1 is not on P-256 \(ES256\)/);
  r = run(`jwt_keys=${path('idp-rs.key')}`);
  assert.match(r.stderr, /holds no public key \(BEGIN PUBLIC KEY\) nor certificate/);
  r = run(`jwt_issuer=${ISS}`);
  assert.match(r.stderr, /jwt_issuer and jwt_audience need jwt_keys or jwt_jwks/);
});
