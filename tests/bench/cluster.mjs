// SPDX-License-Identifier: MIT
// The cluster scenario (issue 14), wsrouterd side by side with Socket.IO v4
// and its Redis adapter. One redis-server of its own on a free loopback port;
// for each side in turn (--server both, the default: wsrouterd then
// Socket.IO, or the other way round with --first socketio) two server nodes
// on that redis-server (wsrouterd with engine=redis://…, or
// tests/bench/socketio-node.mjs with @socket.io/redis-adapter), SUBS
// subscribers per node spread over WORKERS subscriber processes
// (tests/bench/cluster-subs.mjs, the same for both sides: Node's ws, one
// JSON.parse per delivery), and one publisher on node A sending PUBS
// publications with WINDOW in flight (a publication is in flight until the
// node answers it: wsrouterd's reply to POST /_/publish, Socket.IO's ack).
// Measures publications delivered per second over all subscribers (from the
// first publication to the last delivery) and publish-to-delivery latency
// p50/p99 (the publisher's wall-clock timestamp in the data), how long the
// publisher took to have all answered, and the CPU of the nodes and of the
// subscriber processes over the publishing and delivering. Every delivery
// is counted per subscriber: a lost or doubled one is an error. Prints one
// JSON line per side. Every process it starts is stopped by pid when it ends.
//
//   node tests/bench/cluster.mjs [--server both|wsrouter|socketio] [--first wsrouter|socketio]
//                                [--subs N] [--pubs N] [--window N | --rate R] [--workers N] [--drain S]
// (--drain: how long to wait for the last deliveries after the last answer; 60 s)
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { io as ioClient } from 'socket.io-client';
import WebSocket from 'ws';
import { freePort } from '../js/nginx.mjs';

const HERE = new URL('.', import.meta.url).pathname;
const opts = { server: 'both', first: 'wsrouter', subs: '1000', pubs: '300', window: '16', workers: '4', drain: '60',
               rate: '0', subscribers: 'c' };
for (let i = 2; i < process.argv.length; i += 2) {
  const k = process.argv[i].replace(/^--/, ''), v = process.argv[i + 1];
  if (!(k in opts) || v === undefined) {
    process.stderr.write(`cluster.mjs: unknown option or missing value: ${process.argv[i]}\n`);
    process.exit(2);
  }
  opts[k] = v;
}
const SUBS = Number(opts.subs), PUBS = Number(opts.pubs), WINDOW = Number(opts.window);
const WORKERS = Number(opts.workers), DRAIN_MS = 1000 * Number(opts.drain), RATE = Number(opts.rate);
const KINDS = ['wsrouter', 'socketio'];
for (const [k, v, lo, hi] of [['subs', SUBS, 1, 20000], ['pubs', PUBS, 1, 1e6], ['window', WINDOW, 1, 10000],
                              ['workers', WORKERS, 1, 16], ['drain', DRAIN_MS / 1000, 1, 600], ['rate', RATE, 0, 10000]])
  if (!Number.isInteger(v) || v < lo || v > hi) {
    process.stderr.write(`cluster.mjs: --${k} must be an integer from ${lo} to ${hi}\n`);
    process.exit(2);
  }
if (!['c', 'node'].includes(opts.subscribers)) {
  process.stderr.write('cluster.mjs: --subscribers c|node\n');
  process.exit(2);
}
if (!['both', ...KINDS].includes(opts.server) || !KINDS.includes(opts.first)) {
  process.stderr.write('cluster.mjs: --server both|wsrouter|socketio, --first wsrouter|socketio\n');
  process.exit(2);
}
if (WORKERS > 1 && (WORKERS % 2 !== 0 || SUBS % (WORKERS / 2) !== 0)) {
  process.stderr.write('cluster.mjs: --workers must be 1, or even and share --subs out evenly on each node\n');
  process.exit(2);
}
const WSRD = process.env.WSRD ?? new URL('../../build/wsrouterd', import.meta.url).pathname;
const START_MS = 15000, STOP_MS = 5000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();

// setpriv --pdeathsig: should this script be killed outright, its children die too.
const PDEATH = (() => {
  try {
    execFileSync('setpriv', ['--pdeathsig', 'KILL', 'true'], { stdio: 'ignore' });
    return ['setpriv', '--pdeathsig', 'KILL'];
  } catch {
    return [];
  }
})();
const run = (cmd, args, o) => spawn(PDEATH.length ? PDEATH[0] : cmd, [...PDEATH.slice(1), ...(PDEATH.length ? [cmd] : []), ...args], o);

const procs = new Set();
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'])
  process.on(sig, () => {
    for (const p of procs) p.kill('SIGKILL');
    process.exit(130);
  });
function track(p) {
  procs.add(p);
  p.on('exit', () => procs.delete(p));
  return p;
}

// Starts a server process; resolves with the match of `ready` in its output.
function start(cmd, args, ready) {
  const p = track(run(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${cmd} did not start within 15 s:\n${out}`)), START_MS);
    const on = (d) => {
      out += d;
      const m = ready.exec(out);
      if (m) {
        clearTimeout(t);
        resolve({ p, m });
      }
    };
    p.stdout.on('data', on);
    p.stderr.on('data', on);
    p.on('exit', (code, sig) => {
      clearTimeout(t);
      reject(new Error(`${cmd} exited (${sig ?? code}):\n${out}`));
    });
  });
}

async function stop(p) {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  if (await Promise.race([gone.then(() => true), sleep(STOP_MS).then(() => false)])) return;
  p.kill('SIGKILL');
  await gone;
}

// /proc/PID/stat utime + stime, in seconds.
function cpuSeconds(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return null;
  }
}

function startNode(kind, rport) {
  if (kind === 'wsrouter')
    return start(WSRD, ['--port', '0', '--store', '', '--log-level', 'err', '--set', `engine=redis://127.0.0.1:${rport}`,
                        '--set', 'max_connections_per_ip=0', '--set', 'rate_limit_connection=off'],
                 /listening on (ws:\/\/127\.0\.0\.1:\d+\/)/);
  return start('node', [join(HERE, 'socketio-node.mjs'), '--port', '0', '--redis', `redis://127.0.0.1:${rport}`],
               /listening on (ws:\/\/127\.0\.0\.1:\d+\/)/);
}

// Subscriber processes: each holds SUBS × 2 / WORKERS subscribers; with 2 or
// more workers each one talks to one node, with 1 it talks to both.
// --subscribers c (the default): cluster-subs.c, built here with cc, which
// takes a fraction of the CPU of Node's ws for the same work (on 2 CPUs the
// subscribers would otherwise take most of what the servers are measured
// on); --subscribers node: cluster-subs.mjs. Both speak the same commands:
// the C one as JSON lines on its stdin and stdout, the Node one over IPC.
function subscriberProgram(dir) {
  if (opts.subscribers === 'node') return null;
  const exe = join(dir, 'cluster-subs');
  execFileSync(process.env.CC ?? 'cc', ['-std=c11', '-O2', '-o', exe, join(HERE, 'cluster-subs.c')],
               { stdio: ['ignore', 'inherit', 'inherit'] });
  return exe;
}

function startWorker(exe, args) {
  if (!exe) {
    const p = track(run('node', [join(HERE, 'cluster-subs.mjs'), ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    return { p, on: (f) => p.on('message', f), send: (m) => p.send(m) };
  }
  const p = track(run(exe, args, { stdio: ['pipe', 'pipe', 'inherit'] }));
  let buf = '';
  const listeners = [];
  p.stdout.on('data', (d) => {
    buf += d;
    for (let nl; (nl = buf.indexOf('\n')) >= 0; buf = buf.slice(nl + 1))
      for (const f of listeners) f(JSON.parse(buf.slice(0, nl)));
  });
  p.stdin.on('error', () => {}); // a worker that exited: its exit is what counts
  return { p, on: (f) => listeners.push(f), send: (m) => p.stdin.write(m.report ? 'report\n' : 'count\n') };
}

async function startWorkers(kind, nodes, dir) {
  const perNode = WORKERS === 1 ? SUBS : (2 * SUBS) / WORKERS;
  const ws = [];
  for (let w = 0; w < WORKERS; w++) {
    const urls = WORKERS === 1 ? nodes : [nodes[w % 2]];
    const file = join(dir, `lat-${kind}-${w}`);
    ws.push({ ...startWorker(subsExe, [kind, String(perNode), String(PUBS), file, ...urls]), file, msgs: [], waiters: [] });
  }
  for (const w of ws) {
    w.on((m) => {
      w.msgs.push(m);
      for (const f of w.waiters.splice(0)) f();
    });
    w.p.on('exit', () => {
      for (const f of w.waiters.splice(0)) f();
    });
  }
  await Promise.all(ws.map((w) => next(w, 60000)));
  for (const w of ws) {
    const m = w.msgs.shift();
    if (!m || !m.ready) throw new Error(`subscriber process: ${m ? m.error : 'no answer within 60 s'}`);
  }
  return ws;
}

function next(w, ms) {
  if (w.msgs.length || w.p.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    w.waiters.push(() => {
      clearTimeout(t);
      resolve();
    });
  });
}

// Calls send() PUBS times: WINDOW in flight (a call to answered() lets the
// next go), or with --rate R at R a second on a fixed schedule whatever the
// answers (an open loop: what latency is at a load both sides sustain).
function pace(send, onDone) {
  let sent = 0, answered = 0;
  const one = () => {
    sent++;
    send();
  };
  const api = {
    answered() {
      answered++;
      if (!RATE && sent < PUBS) one();
      if (answered === PUBS) onDone();
    },
  };
  if (!RATE) {
    for (let i = 0; i < Math.min(WINDOW, PUBS); i++) one();
    return api;
  }
  const t0 = performance.now();
  const tick = () => {
    // Every publication whose time has come (a late timer catches up).
    while (sent < PUBS && performance.now() >= t0 + (sent * 1000) / RATE) one();
    if (sent < PUBS) setTimeout(tick, Math.max(0, t0 + (sent * 1000) / RATE - performance.now()));
  };
  tick();
  return api;
}

// The publisher: resolves once PUBS publications are answered; returns the start time.
async function publish(kind, url) {
  let sent = 0, failed = 0;
  const payload = () => ({ t: now(), i: sent++ });
  if (kind === 'wsrouter') {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const t0 = now();
    await new Promise((resolve) => {
      const p = pace(() => ws.send(JSON.stringify({ method: 'POST', url: '/_/publish', args: { topic: 'bench' },
                                                     data: payload() })), resolve);
      ws.on('message', (d) => {
        if (JSON.parse(d).status !== 200) failed++;
        p.answered();
      });
    });
    ws.terminate();
    return { t0, failed };
  }
  const s = ioClient(url, { transports: ['websocket'], reconnection: false, perMessageDeflate: false });
  await new Promise((resolve, reject) => {
    s.once('connect', resolve);
    s.once('connect_error', reject);
  });
  const t0 = now();
  await new Promise((resolve) => {
    const p = pace(() => s.emit('publish', 'bench', payload(), (r) => {
      if (!r || !r.ok) failed++;
      p.answered();
    }), resolve);
  });
  s.close();
  return { t0, failed };
}

async function side(kind, rport, dir) {
  const nodes = [], pids = [];
  for (let i = 0; i < 2; i++) {
    const { p, m } = await startNode(kind, rport);
    nodes.push(m[1]);
    pids.push(p);
  }
  const workers = await startWorkers(kind, nodes, dir);
  await sleep(300); // let the last subscriptions settle everywhere
  const cpu0 = pids.map((p) => cpuSeconds(p.pid)), ccpu0 = workers.map((w) => cpuSeconds(w.p.pid));
  const { t0, failed } = await publish(kind, nodes[0]);
  const answeredAt = now();
  const want = PUBS * SUBS * 2;
  // Each worker is asked once its share arrived or DRAIN_MS after the last answer.
  const perWorker = want / WORKERS;
  const deadline = Date.now() + DRAIN_MS;
  const reports = [];
  for (const w of workers) {
    while (Date.now() < deadline) {
      w.send({ count: true });
      await next(w, 5000);
      const c = w.msgs.shift();
      if (!c || c.delivered >= perWorker) break;
      await sleep(20);
    }
  }
  for (const w of workers) {
    if (w.p.exitCode === null) w.send({ report: true });
    await next(w, 10000);
    reports.push(w.msgs.shift() ?? null);
  }
  const cpu1 = pids.map((p) => cpuSeconds(p.pid)), ccpu1 = workers.map((w) => cpuSeconds(w.p.pid));
  const cpuSum = (a, b) => (a.concat(b).every((x) => x != null)
    ? +b.reduce((acc, x, i) => acc + x - a[i], 0).toFixed(2) : null);
  const lost = reports.some((r) => !r);
  const delivered = reports.reduce((a, r) => a + (r ? r.delivered : 0), 0);
  const last = Math.max(...reports.filter(Boolean).map((r) => r.last));
  const all = [];
  for (const w of workers) {
    try {
      // A small file's Buffer may sit in Node's shared pool, at any offset.
      const b = readFileSync(w.file);
      all.push(new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)));
    } catch {
      /* a worker that never reported */
    }
  }
  const lat = new Float64Array(all.reduce((a, x) => a + x.length, 0));
  let off = 0;
  for (const x of all) {
    lat.set(x, off);
    off += x.length;
  }
  lat.sort();
  const pct = (q) => (lat.length ? +lat[Math.min(lat.length - 1, Math.floor(q * lat.length))].toFixed(2) : null);
  for (const w of workers) await stop(w.p);
  for (const p of pids) await stop(p);
  const secs = (last - t0) / 1000;
  const errors = [];
  if (failed) errors.push(`${failed} publications not answered with success`);
  if (lost) errors.push('a subscriber process did not report');
  if (delivered !== want) errors.push(`${delivered} of ${want} deliveries`);
  for (const r of reports.filter(Boolean)) {
    if (r.min !== PUBS || r.max !== PUBS) errors.push(`a subscriber got between ${r.min} and ${r.max} of ${PUBS}`);
    if (r.bad) errors.push(`${r.bad} deliveries without the publisher's timestamp`);
  }
  return {
    server: kind, nodes: 2, subscribers_per_node: SUBS, publications: PUBS, window: RATE ? null : WINDOW,
    rate: RATE || null, workers: WORKERS, subscribers: opts.subscribers,
    delivered, expected: want, seconds: +secs.toFixed(3),
    deliveries_per_s: delivered && secs > 0 ? Math.round(delivered / secs) : null,
    p50_ms: pct(0.5), p99_ms: pct(0.99), max_ms: pct(1),
    publish_s: +((answeredAt - t0) / 1000).toFixed(3),
    server_cpu_s: cpuSum(cpu0, cpu1), subscriber_cpu_s: cpuSum(ccpu0, ccpu1),
    errors,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'wsrd-bench-cluster-'));
let status = 0, subsExe = null;
try {
  subsExe = subscriberProgram(dir);
  const rport = await freePort();
  await start('redis-server', ['--port', String(rport), '--bind', '127.0.0.1', '--dir', dir,
    '--save', '', '--appendonly', 'no'], /Ready to accept connections/);
  const order = opts.server !== 'both' ? [opts.server]
    : opts.first === 'wsrouter' ? KINDS : [...KINDS].reverse();
  for (const kind of order) {
    const r = await side(kind, rport, dir);
    if (r.errors.length) status = 3;
    console.log(JSON.stringify(r));
  }
} catch (e) {
  process.stderr.write(`cluster.mjs: ${e.stack || e}\n`);
  status = 1;
} finally {
  for (const p of [...procs].reverse()) await stop(p);
  rmSync(dir, { recursive: true, force: true });
}
process.exit(status);
