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
