// SPDX-License-Identifier: MIT
// The cluster scenario (issue 14): a redis-server of its own on a free
// loopback port, two wsrouterd nodes on it, SUBS subscribers per node (ws
// clients in this process), one publisher on node A sending PUBS
// publications at full speed (WINDOW in flight). Measures publications
// delivered per second across all subscribers and publish-to-delivery
// latency (p50/p99, the publisher's timestamp in the data). Every process it
// starts is stopped by pid when it ends.
//
//   node tests/bench/cluster.mjs [--subs N] [--pubs N] [--window N]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import WebSocket from '../node_modules/ws/index.js';
import { freePort } from '../js/nginx.mjs';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const SUBS = arg('subs', 1000);
const PUBS = arg('pubs', 2000);
const WINDOW = arg('window', 16);
const WSRD = process.env.WSRD ?? new URL('../../build/wsrouterd', import.meta.url).pathname;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const procs = [];
function start(cmd, args, ready) {
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(p);
  let out = '';
  return new Promise((resolve, reject) => {
    const on = (d) => { out += d; const m = ready.exec(out); if (m) resolve({ p, m }); };
    p.stdout.on('data', on);
    p.stderr.on('data', on);
    p.on('exit', (code) => reject(new Error(`${cmd} exited ${code}:\n${out}`)));
    setTimeout(() => reject(new Error(`${cmd} did not start:\n${out}`)), 15000);
  });
}

function open(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

const dir = mkdtempSync(join(tmpdir(), 'wsrd-bench-cluster-'));
try {
  const rport = await freePort();
  await start('redis-server', ['--port', String(rport), '--bind', '127.0.0.1', '--dir', dir,
    '--save', '', '--appendonly', 'no'], /Ready to accept connections/);
  const nodes = [];
  for (let i = 0; i < 2; i++) {
    const { m } = await start(WSRD, ['--port', '0', '--store', '', '--set', `engine=redis://127.0.0.1:${rport}`,
      '--set', 'max_connections_per_ip=0', '--set', 'rate_limit_connection=off'], /listening on ws:\/\/\S+?:(\d+)\//);
    nodes.push(`ws://127.0.0.1:${m[1]}/`);
  }
  const latencies = [];
  let delivered = 0;
  const subs = [];
  for (let n = 0; n < 2; n++) {
    for (let i = 0; i < SUBS; i++) {
      const ws = await open(nodes[n]);
      ws.on('message', (d) => {
        const m = JSON.parse(d);
        if (m.event_name !== 'publish') return;
        delivered++;
        latencies.push(performance.now() - m.data.t);
      });
      ws.send(JSON.stringify({ method: 'POST', url: '/_/subscribe', args: { topic: 'bench' } }));
      subs.push(ws);
    }
  }
  await sleep(500);
  const pub = await open(nodes[0]);
  let sent = 0, answered = 0, t0 = 0;
  const done = new Promise((resolve) => {
    pub.on('message', () => {
      answered++;
      if (sent < PUBS) send();
      if (answered === PUBS) resolve();
    });
  });
  const send = () => {
    sent++;
    pub.send(JSON.stringify({ method: 'POST', url: '/_/publish', args: { topic: 'bench' }, data: { t: performance.now(), i: sent } }));
  };
  t0 = performance.now();
  for (let i = 0; i < WINDOW; i++) send();
  await done;
  const want = PUBS * SUBS * 2;
  const deadline = Date.now() + 60000;
  while (delivered < want && Date.now() < deadline) await sleep(5);
  const secs = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  console.log(JSON.stringify({
    nodes: 2, subscribers_per_node: SUBS, publications: PUBS, delivered, expected: want,
    deliveries_per_s: Math.round(delivered / secs), p50_ms: +pct(0.5).toFixed(2), p99_ms: +pct(0.99).toFixed(2),
  }));
  for (const ws of subs) ws.terminate();
  pub.terminate();
} finally {
  for (const p of procs.reverse()) if (p.exitCode === null) { p.kill('SIGTERM'); await once(p, 'exit'); }
  rmSync(dir, { recursive: true, force: true });
}
