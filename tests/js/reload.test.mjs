// SPDX-License-Identifier: MIT
// SIGHUP as an operator uses it (README "Operating wsrouter"): the
// configuration file is read again; what a running server can change
// changes, what needs a restart is named and kept, and a file that does not
// load changes nothing and says why. Real wsrouterd on a free port; every
// wait bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, startServer, waitFor } from './harness.mjs';

/** A log line as an object: JSON ones parsed, text ones as { msg }. */
const parsed = (l) => (l.startsWith('{') ? JSON.parse(l) : { msg: l });

test('SIGHUP applies log settings at once, names the keys that need a restart, and refuses a broken file whole', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wsrd-reload-'));
  const path = join(dir, 'wsrouter.json');
  writeFileSync(path, JSON.stringify({ log_level: 'notice', max_message: '1M' }, null, 2));
  const srv = await startServer(['--config', path]);
  try {
    const c = await connect(srv.url);
    const hup = async (n, what) => {
      srv.proc.kill('SIGHUP');
      await waitFor(() => srv.stderr().split('SIGHUP: ').length - 1 >= n, 5000, what);
    };
    assert.equal((await c.request({ cmd: 'ping' })).data, 'PONG');
    assert.ok(!srv.stderr().includes(' access '), 'no access log at notice');
    // 1: live keys only.
    writeFileSync(path, JSON.stringify({ log_level: 'info', log_format: 'json', max_message: '1M' }, null, 2));
    await hup(1, 'the first reload');
    assert.equal((await c.request({ cmd: 'ping' })).data, 'PONG');
    await waitFor(() => srv.stderr().includes('"msg":"access '), 5000, 'a JSON access line');
    let lines = srv.stderr().trim().split('\n');
    // Applied together: the line that says so is already in the new format.
    assert.deepEqual(JSON.parse(lines.find((l) => l.includes('SIGHUP: applied'))).msg, 'SIGHUP: applied log_level, log_format');
    const access = JSON.parse(lines.find((l) => l.includes('"msg":"access ')));
    assert.equal(access.level, 'info');
    assert.match(access.msg, /"cmd ping" 200 /);
    assert.ok(!srv.stderr().includes('TLS certificate'), 'no TLS: no certificate reload is announced');
    // 2: a key that needs a restart is named and kept; the live one still applies.
    writeFileSync(path, JSON.stringify({ log_level: 'notice', log_format: 'json', max_message: '2M', threads: 2 }, null, 2));
    await hup(3, 'the second reload');
    lines = srv.stderr().trim().split('\n').map(parsed);
    const warned = lines.find((o) => o.msg.includes('need a restart'));
    assert.equal(warned.level, 'warn');
    assert.equal(warned.msg, 'SIGHUP: max_message, threads changed in the configuration and need a restart: kept');
    assert.ok(lines.some((o) => o.msg === 'SIGHUP: applied log_level'));
    const big = 'x'.repeat(1024 * 1024 + 100); // past the max_message in force (1M): 1009
    c.send(JSON.stringify({ cmd: 'echo', args: { text: big } }));
    assert.equal((await c.closed).code, 1009, 'max_message stayed 1M');
    const before = srv.stderr().length;
    const d = await connect(srv.url);
    assert.equal((await d.request({ cmd: 'ping' })).data, 'PONG');
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(!srv.stderr().slice(before).includes('access '), 'notice again: no access line');
    // 3: a broken file changes nothing, and the log says why.
    writeFileSync(path, '{ "log_level": "debug", ');
    await hup(4, 'the broken reload');
    const refused = srv.stderr().trim().split('\n').map(parsed).find((o) => o.msg.includes('not reloaded'));
    assert.equal(refused.level, 'err');
    assert.match(refused.msg, new RegExp(`^SIGHUP: configuration not reloaded, nothing changed: ${path}:1:\\d+: not valid JSON: `));
    assert.equal((await d.request({ cmd: 'ping' })).data, 'PONG');
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(!srv.stderr().includes('"level":"debug"'), 'the level stayed notice');
    await d.close();
    assert.equal((await srv.stop()).code, 0, srv.stderr());
  } finally {
    await srv.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGHUP changes origins, trusted proxies, connection and rate limits together; open connections keep working', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wsrd-reload-'));
  const path = join(dir, 'wsrouter.json');
  const A = 'http://a.example', B = 'http://b.example';
  const first = { log_level: 'info', origins: A, rate_limit_connection: 1000 };
  writeFileSync(path, JSON.stringify(first, null, 2));
  const srv = await startServer(['--config', path, '--io-threads', '2']);
  let hups = 0;
  const hup = async (what) => {
    hups++;
    srv.proc.kill('SIGHUP');
    await waitFor(() => srv.stderr().split('SIGHUP: ').length - 1 >= hups, 5000, what);
    return srv.stderr().trim().split('\n').filter((l) => l.includes('SIGHUP: ')).pop();
  };
  const xff = { headers: { 'X-Forwarded-For': '203.0.113.7' } };
  const accessOf = async (c) => {
    const before = srv.stderr().length;
    assert.equal((await c.request({ cmd: 'ping' })).data, 'PONG');
    await waitFor(() => srv.stderr().slice(before).includes(' access '), 5000, 'the access line');
    return srv.stderr().slice(before).split('\n').find((l) => l.includes(' access '));
  };
  try {
    // Before: Origin a only, no trusted proxy (the header is not believed), a high rate.
    const c = await connect(srv.url, { origin: A });
    await assert.rejects(connect(srv.url, { origin: B }), /HTTP 403/);
    for (let i = 0; i < 5; i++) assert.equal((await c.request({ cmd: 'ping' })).data, 'PONG');
    const p0 = await connect(srv.url, { origin: A, ...xff });
    assert.match(await accessOf(p0), /access conn#\S+ 127\.0\.0\.1 - /);
    await p0.close();

    // 1: all four change at once.
    writeFileSync(path, JSON.stringify({
      log_level: 'info', origins: B, trusted_proxies: '127.0.0.1', max_connections_per_ip: 2,
      rate_limit_connection: 2, rate_burst: 2, rate_limit_user: 0.00001,
    }, null, 2));
    assert.match(await hup('the reload'), /\[notice\] SIGHUP: applied max_connections_per_ip, origins, trusted_proxies, rate_limit_connection, rate_limit_user, rate_burst$/);
    assert.ok(!srv.stderr().includes('need a restart'), srv.stderr());
    // What was applied is what is in force now: the same file again changes nothing.
    assert.match(await hup('the same file again'), /\[notice\] SIGHUP: configuration read again, nothing to apply$/);
    // The connection opened under Origin a keeps working...
    assert.equal((await c.request({ cmd: 'ping' })).data, 'PONG');
    // ...new handshakes get the new allow-list...
    await assert.rejects(connect(srv.url, { origin: A }), /HTTP 403/);
    const d = await connect(srv.url, { origin: B });
    // ...and the new rate: 2 a second, a burst of 2.
    assert.equal((await d.request({ cmd: 'ping' })).data, 'PONG');
    assert.equal((await d.request({ cmd: 'ping' })).data, 'PONG');
    const third = await d.request({ cmd: 'ping' });
    assert.equal(third.status, 429);
    assert.match(third.detail ?? third.error ?? JSON.stringify(third), /at most 2 requests a second per connection/);
    // The trusted proxy's client is believed now, and counted against its own address.
    const p1 = await connect(srv.url, { origin: B, ...xff });
    assert.match(await accessOf(p1), /access conn#\S+ 203\.0\.113\.7 - /);
    // 127.0.0.1 holds c and d: a third from it is past max_connections_per_ip.
    await assert.rejects(connect(srv.url, { origin: B }), /HTTP 429/);
    await p1.close();

    // 2: one bad value refuses the whole file: nothing changes, the log says where.
    writeFileSync(path, JSON.stringify({
      log_level: 'notice', origins: A, rate_limit_connection: 1000, trusted_proxies: '127.0.0.1/99',
    }, null, 2));
    const refused = await hup('the refused reload');
    assert.match(refused, new RegExp(`\\[err\\] SIGHUP: configuration not reloaded, nothing changed: ${path}:5:3: .*127\\.0\\.0\\.1/99`));
    await assert.rejects(connect(srv.url, { origin: A }), /HTTP 403/);
    const e = await connect(srv.url, { origin: B, ...xff });
    assert.match(await accessOf(e), /access conn#\S+ 203\.0\.113\.7 - /, 'log_level stayed info, the proxy trusted');
    await e.close();

    // 3: a syntax error: the start-up's file:line:col sentence, printable.
    writeFileSync(path, '{ "log_level": "info", \u001b[2J }');
    const broken = await hup('the broken reload');
    assert.ok(!broken.includes('\u001b'), JSON.stringify(broken));
    assert.match(broken, new RegExp(`SIGHUP: configuration not reloaded, nothing changed: ${path}:1:24: not valid JSON: string or '}' expected near '\\?'$`));
    await c.close();
    await d.close();
    assert.equal((await srv.stop()).code, 0, srv.stderr());
  } finally {
    await srv.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
});
