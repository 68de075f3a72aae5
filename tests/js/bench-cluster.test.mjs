// SPDX-License-Identifier: MIT
// The cluster benchmark (issue 14, tests/bench/cluster.mjs) on a small load:
// both sides (two real wsrouterd nodes, then two real Socket.IO nodes with
// @socket.io/redis-adapter, on one real redis-server) deliver every
// publication to every subscriber once and report figures that hold
// together; a server that loses and doubles deliveries is caught (exit 3, the
// errors named); bad options are refused with a sentence naming them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { WSRD, withTimeout } from './harness.mjs';

const CLUSTER = new URL('../bench/cluster.mjs', import.meta.url).pathname;
const WS = new URL('../node_modules/ws/index.js', import.meta.url);

// Runs cluster.mjs; resolves with its exit code, JSON lines and stderr.
function run(args, env = {}) {
  const p = spawn('node', [CLUSTER, ...args], { env: { ...process.env, WSRD, ...env },
                                               stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  p.stdout.on('data', (d) => (out += d));
  p.stderr.on('data', (d) => (err += d));
  return withTimeout(new Promise((resolve) => p.on('close', (code) => resolve({
    code, err, lines: out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)),
  }))), 120000, 'cluster.mjs').finally(() => {
    if (p.exitCode === null) p.kill('SIGTERM');
  });
}

test('both sides deliver every publication to every subscriber once', async () => {
  const r = await run(['--subs', '40', '--pubs', '25', '--window', '4', '--workers', '2', '--first', 'socketio']);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(r.lines.map((x) => x.server), ['socketio', 'wsrouter']);
  for (const x of r.lines) {
    assert.equal(x.subscribers, 'c', 'the C subscribers by default');
    assert.deepEqual(x.errors, [], x.server);
    assert.equal(x.expected, 25 * 40 * 2);
    assert.equal(x.delivered, x.expected, x.server);
    assert.ok(x.deliveries_per_s > 0 && x.seconds > 0, x.server);
    const why = `${x.server}: ${JSON.stringify(x)}`;
    // seconds is rounded to the ms: deliveries_per_s × seconds is delivered within that.
    assert.ok(Math.abs(x.deliveries_per_s * x.seconds - x.delivered) <= x.deliveries_per_s * 0.0005 + 1, why);
    assert.ok(x.p50_ms >= 0 && x.p50_ms <= x.p99_ms && x.p99_ms <= x.max_ms && x.max_ms < 60000, why);
    // Not ordered: the last delivery may come before the last answer.
    assert.ok(x.publish_s > 0 && x.seconds > 0, why);
    assert.ok(x.server_cpu_s >= 0 && x.subscriber_cpu_s >= 0, why);
  }
});

test('the Node subscribers and a paced publisher (--rate) give the same counts', async () => {
  const r = await run(['--subs', '20', '--pubs', '10', '--rate', '50', '--workers', '2', '--subscribers', 'node']);
  assert.equal(r.code, 0, r.err);
  for (const x of r.lines) {
    assert.deepEqual(x.errors, [], x.server);
    assert.equal(x.subscribers, 'node');
    assert.equal(x.rate, 50);
    assert.equal(x.window, null);
    assert.equal(x.delivered, 10 * 20 * 2, x.server);
    // Ten publications at 50 a second take at least the nine intervals between them.
    assert.ok(x.publish_s >= 0.18, `${x.server}: paced (${x.publish_s} s)`);
  }
});

test('lost and doubled deliveries are errors', async () => {
  // A stand-in for wsrouterd whose nodes share nothing (node B's subscribers
  // get nothing) and that sends node A's subscribers every publication twice.
  const dir = mkdtempSync(join(tmpdir(), 'wsrd-bench-liar-'));
  try {
    const liar = join(dir, 'liar.mjs');
    writeFileSync(liar, `#!/usr/bin/env node
import ws from ${JSON.stringify(pathToFileURL(WS.pathname).href)};
const wss = new ws.WebSocketServer({ host: '127.0.0.1', port: 0 });
const subs = new Set();
wss.on('listening', () => console.log('listening on ws://127.0.0.1:' + wss.address().port + '/'));
wss.on('connection', (c) => c.on('message', (d) => {
  const m = JSON.parse(d);
  if (m.url === '/_/subscribe') {
    subs.add(c);
    c.send(JSON.stringify({ status: 200, data: { subscribed: m.args.topic }, event_name: m.event_name }));
  } else if (m.url === '/_/publish') {
    const ev = JSON.stringify({ event_name: 'publish', topic: m.args.topic, data: m.data });
    for (const s of subs) { s.send(ev); s.send(ev); }
    c.send(JSON.stringify({ status: 200, data: { delivered: subs.size }, event_name: null }));
  }
}));
process.on('SIGTERM', () => process.exit(0));
`);
    chmodSync(liar, 0o755);
    const r = await run(['--server', 'wsrouter', '--subs', '10', '--pubs', '5', '--workers', '2', '--drain', '1'],
                        { WSRD: liar });
    assert.equal(r.code, 3, r.err);
    const [x] = r.lines;
    assert.equal(x.expected, 100);
    assert.equal(x.delivered, 100); // 50 × 2 on node A, none on node B: right in sum, wrong per subscriber
    assert.ok(x.errors.includes('a subscriber got between 10 and 10 of 5'), JSON.stringify(x.errors));
    assert.ok(x.errors.includes('a subscriber got between 0 and 0 of 5'), JSON.stringify(x.errors));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad options are refused with a sentence naming them', async () => {
  for (const [args, want] of [
    [['--workers', '3'], /--workers must be 1, or even/],
    [['--pubs', '0'], /--pubs must be an integer from 1/],
    [['--server', 'nginx'], /--server both\|wsrouter\|socketio/],
    [['--rounds', '2'], /unknown option or missing value: --rounds/],
    [['--subscribers', 'java'], /--subscribers c\|node/],
    [['--rate', '-1'], /--rate must be an integer from 0/],
  ]) {
    const r = await run(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.err, want);
    assert.deepEqual(r.lines, []);
  }
});
