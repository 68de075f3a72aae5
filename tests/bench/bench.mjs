// SPDX-License-Identifier: MIT
/*
 * The benchmark's driver (GitHub issue 8), started by tests/bench/run-bench
 * once everything is built. For every scenario it runs rounds; in each round
 * it measures every server once, in an order that rotates from round to round,
 * each time on a freshly started server pinned to CPU 0 with the load
 * generator (build-bench/wsr-load) pinned to CPU 1. It keeps the median of
 * the rounds, prints a table with wsrouterd's ratios to the baselines
 * (minimal-lws, node-ws) next to the issue's targets, and writes BENCHMARKS.md.
 * Then the raw TCP cases of issue 13 (bench-raw.mjs: raw NDJSON against
 * WebSocket, and redis-benchmark's PING against redis-server and wsrouterd).
 * It talks to 127.0.0.1 only, bounds every step in time, and stops every
 * process it started, on failure and on SIGINT too. It never tunes anything.
 * The cluster scenario (issue 14) is tests/bench/cluster.mjs, once per round
 * for both sides (wsrouterd and Socket.IO on one redis-server, the side that
 * goes first alternating), unpinned; its section of BENCHMARKS.md is kept by
 * runs that leave it out and is all that `--only cluster` rewrites.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { clusterSection, machine, markdownReport, problems, terminalReport } from './bench-report.mjs';
import { RAW_CASES, runRawCases } from './bench-raw.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const HARD_LIMIT_MS = 20 * 60 * 1000; // the whole benchmark, whatever happens
const CLUSTER_RUN_MS = 5 * 60 * 1000; // one round of the cluster scenario (both sides)
const START_TIMEOUT_MS = 10000;
const STOP_TIMEOUT_MS = 5000;
const IDLE_CONNECTIONS = 10000;

const SCENARIOS = [
  { id: 'lat', title: '1 connection × 1 in flight', args: ['-c', '1', '-p', '1'] },
  { id: 'c100', title: '100 connections × 1', args: ['-c', '100', '-p', '1'] },
  // syscalls: the server's system calls counted over the measured interval (issue 19).
  { id: 'tput', title: '100 connections × 16', args: ['-c', '100', '-p', '16'], syscalls: true },
  { id: 'idle', title: `${IDLE_CONNECTIONS} idle connections`, idle: true,
    args: ['-c', String(IDLE_CONNECTIONS), '--idle', '--hold', '0.5'] },
  { id: 'echo', title: '64 KiB echo, 10 connections × 1',
    args: ['-c', '10', '-p', '1', '-m', 'echo', '-s', '65536'] },
  { id: 'wss', title: '1000 connections × 1 over wss://', tls: true,
    args: ['-c', '1000', '-p', '1'] },
  // Issue 14: wsrouterd against Socket.IO v4 + @socket.io/redis-adapter, by
  // tests/bench/cluster.mjs (its own redis-server, 2 nodes per side).
  { id: 'cluster', title: '2 nodes on Redis, 1000 subscribers per node, 1 publisher × 16', cluster: true },
];

// The sides of the cluster scenario.
const CLUSTER_SERVERS = [
  { id: 'wsrouter', title: 'wsrouterd' },
  { id: 'socketio', title: 'Socket.IO' },
];

const SERVERS = [
  { id: 'wsrouter', title: 'wsrouterd' },
  { id: 'lws', title: 'minimal-lws' },
  { id: 'node', title: 'node-ws' },
];

/* --- options ------------------------------------------------------------------- */

function parseArgs(argv) {
  const o = { rounds: 3, seconds: 2, warmup: 0.5, only: null, out: 'BENCHMARKS.md', profile: 'yes',
              wsrouterd: 'build/wsrouterd', build: 'build-bench', command: 'tests/bench/run-bench',
              'cluster-pubs': 300, 'cluster-workers': 4 };
  const numeric = ['rounds', 'seconds', 'warmup', 'cluster-pubs', 'cluster-workers'];
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, ''), v = argv[i + 1];
    if (!(k in o) || v === undefined) throw new Error(`unknown option or missing value: ${argv[i]}`);
    o[k] = numeric.includes(k) ? Number(v) : v;
  }
  if (!(Number.isInteger(o['cluster-pubs']) && o['cluster-pubs'] >= 1 && o['cluster-pubs'] <= 100000) ||
      !(Number.isInteger(o['cluster-workers']) && o['cluster-workers'] >= 2 && o['cluster-workers'] <= 8 &&
        o['cluster-workers'] % 2 === 0))
    throw new Error('--cluster-pubs 1..100000, --cluster-workers 2, 4, 6 or 8');
  if (o.profile !== 'yes' && o.profile !== 'no') throw new Error('--profile yes|no');
  if (!(o.rounds >= 1 && o.rounds <= 20) || !(o.seconds > 0 && o.seconds <= 60) ||
      !(o.warmup >= 0 && o.warmup <= 60))
    throw new Error('--rounds 1..20, --seconds 0..60, --warmup 0..60');
  if (o.only) {
    const ids = o.only.split(',');
    for (const id of ids)
      if (!SCENARIOS.some((s) => s.id === id) && !RAW_CASES.some((s) => s.id === id))
        throw new Error(`no scenario ${id}`);
    o.only = ids;
  }
  o.respRequests = Math.round(100000 * o.seconds); // redis-benchmark -n, for each of its two tests
  return o;
}

/* --- processes ------------------------------------------------------------------- */

const live = new Set(); // every child still running, killed on our way out

function killAll() {
  for (const c of live) {
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  live.clear();
}

function track(child) {
  live.add(child);
  child.on('exit', () => live.delete(child));
  return child;
}

// setpriv --pdeathsig: should this driver be killed outright, its children die too.
const PDEATH = (() => {
  try {
    execFileSync('setpriv', ['--pdeathsig', 'KILL', 'true'], { stdio: 'ignore' });
    return ['setpriv', '--pdeathsig', 'KILL'];
  } catch {
    return [];
  }
})();

function serverCommand(o, kind, tls) {
  const cert = path.join(o.build, 'certs/server.pem'), key = path.join(o.build, 'certs/server.key');
  switch (kind) {
  case 'wsrouter':
    // No per-connection rate limit (5000 requests/s by default): one client
    // with one request in flight goes faster than that, and its 429s would
    // measure the limiter, not the server. The baselines have none.
    return [o.wsrouterd, '--port', '0', '--io-threads', '1', '--modules', 'examples', '--store', '',
            '--log-level', 'err', '--set', 'rate_limit_connection=0',
            ...(tls ? ['--tls-port', '0', '--tls-cert', cert, '--tls-key', key] : [])];
  case 'lws':
    return [path.join(o.build, 'minimal-lws'), '--port', '0',
            ...(tls ? ['--tls-cert', cert, '--tls-key', key] : [])];
  default:
    return ['node', 'tests/bench/node-ws.mjs', '--port', '0',
            ...(tls ? ['--tls-cert', cert, '--tls-key', key] : [])];
  }
}

function waitExit(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

// Starts a server on CPU 0; resolves once it printed the URL we need.
function startServer(o, kind, tls) {
  const argv = ['-c', '0', ...PDEATH, ...serverCommand(o, kind, tls)];
  const child = track(spawn('taskset', argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
  const s = { kind, child, pid: child.pid, log: '', url: null, exited: null };
  const want = tls ? 'wss' : 'ws';

  child.on('exit', (code, sig) => (s.exited = sig ? `signal ${sig}` : `exit ${code}`));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} did not listen within 10 s`)),
                             START_TIMEOUT_MS);
    const onData = (d) => {
      s.log += d;
      const m = s.log.match(new RegExp(`listening on (${want}://127\\.0\\.0\\.1:\\d+/)`));
      if (m && !s.url) {
        s.url = m[1];
        clearTimeout(timer);
        resolve(s);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', () => {
      clearTimeout(timer);
      reject(new Error(`${kind} ended before listening (${s.exited}): ${s.log.trim()}`));
    });
  });
}

// SIGTERM, then SIGKILL. Returns what went wrong with the server, or null.
async function stopServer(s) {
  const crashed = s.exited;
  s.logBeforeStop = s.log; // what it says on SIGTERM (draining, stopped) is no complaint
  if (!crashed) {
    s.child.kill('SIGTERM');
    if (!(await waitExit(s.child, STOP_TIMEOUT_MS))) {
      s.child.kill('SIGKILL');
      await waitExit(s.child, STOP_TIMEOUT_MS);
      return 'did not stop within 5 s of SIGTERM (killed)';
    }
  }
  if (crashed) return `died during the run (${crashed})`;
  if (s.exited !== 'exit 0' && s.exited !== 'signal SIGTERM') return `stopped with ${s.exited}`;
  return null;
}

// One run of the load generator on CPU 1; resolves with its JSON result.
function runLoad(o, sc, server) {
  const args = ['-c', '1', ...PDEATH, path.join(o.build, 'wsr-load'), '--json', '--pid', String(server.pid),
                ...sc.args];
  if (!sc.idle) args.push('-d', String(o.seconds), '-w', String(o.warmup));
  if (sc.tls) args.push('--ca', path.join(o.build, 'certs/ca.pem'));
  args.push(server.url);
  const child = track(spawn('taskset', args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '', err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const limit = (o.seconds + o.warmup + 60) * 1000;
  const timer = setTimeout(() => child.kill('SIGKILL'), limit);
  return new Promise((resolve) => {
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop();
      let r = null;
      try {
        r = JSON.parse(line);
      } catch {
        /* no result */
      }
      if (r === null || (code !== 0 && code !== 3))
        resolve({ failed: `wsr-load ${sig ? 'killed' : `exit ${code}`}: ${err.trim()}`, result: r });
      else
        resolve({ result: r, note: err.trim() || null });
    });
  });
}

// Instructions per request by stage, under callgrind (tests/bench/profile).
function runProfile(o) {
  if (o.profile !== 'yes') return Promise.resolve({ skipped: 'not asked for (--profile no)' });
  try {
    execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
  } catch {
    return Promise.resolve({ skipped: 'valgrind is not installed' });
  }
  process.stdout.write('  profile: wsrouterd under callgrind, 20 000 requests (about a minute), then with compression\n');
  return profileOnce(o, {}).then(async (plain) => {
    if (plain.failed) return plain;
    // Issue 19: compression on, small messages. ws's defaults (the client keeps
    // its context and compresses every message), then a client offering
    // client_no_context_takeover (which leaves messages under 1 KiB alone).
    plain.compressed = await profileOnce(o, { COMPRESS: 'yes', COMPRESS_LOAD: 'wsz' });
    plain.compressed_nct = await profileOnce(o, { COMPRESS: 'yes', COMPRESS_LOAD: 'wszn' });
    return plain;
  });
}

function profileOnce(o, env) {
  const child = track(spawn('tests/bench/profile', ['--json', o.wsrouterd, '20000'],
                            { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '', err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 300000);
  return new Promise((resolve) => {
    child.on('exit', (code) => {
      clearTimeout(timer);
      try {
        if (code !== 0) throw new Error(err.trim() || `exit ${code}`);
        resolve(JSON.parse(out.trim().split('\n').pop()));
      } catch (e) {
        resolve({ failed: `tests/bench/profile: ${e.message}` });
      }
    });
  });
}

// One round of the cluster scenario: both sides on one redis-server, `first`
// measured first. Resolves with { wsrouter: m, socketio: m } (m as measure()'s).
function runCluster(o, first) {
  const args = ['tests/bench/cluster.mjs', '--server', 'both', '--first', first, '--subs', '1000',
                '--pubs', String(o['cluster-pubs']), '--window', '16', '--workers', String(o['cluster-workers'])];
  const argv = [...PDEATH, 'node', ...args];
  const child = track(spawn(argv[0], argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
                                                      env: { ...process.env, WSRD: path.resolve(ROOT, o.wsrouterd) } }));
  let out = '', err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const timer = setTimeout(() => child.kill('SIGTERM'), CLUSTER_RUN_MS);
  return new Promise((resolve) => {
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      const got = {};
      for (const line of out.trim().split('\n')) {
        try {
          const r = JSON.parse(line);
          if (r && r.server) got[r.server] = r;
        } catch {
          /* not a result */
        }
      }
      const why = sig ? `killed (${sig}) after ${CLUSTER_RUN_MS / 1000} s` : `exit ${code}`;
      const res = {};
      for (const sv of CLUSTER_SERVERS) {
        const r = got[sv.id];
        if (!r) {
          res[sv.id] = { failed: `tests/bench/cluster.mjs ${why}: ${err.trim().slice(0, 300)}` };
          continue;
        }
        res[sv.id] = { failed: null, raw: r, errorList: r.errors,
                       figures: { dps: r.deliveries_per_s, p50: r.p50_ms, p99: r.p99_ms,
                                  cpu_s: r.server_cpu_s, sub_cpu_s: r.subscriber_cpu_s,
                                  pub_s: r.publish_s, seconds: r.seconds, errors: r.errors.length } };
      }
      resolve(res);
    });
  });
}

// The write-type system calls: what a reply can leave by.
const WRITE_CALLS = ['sendto', 'sendmsg', 'sendmmsg', 'write', 'writev'];
const SYSCALL_EVENTS = ['raw_syscalls:sys_enter', ...WRITE_CALLS.map((c) => `syscalls:sys_enter_${c}`)];

// Counts the system calls of `pid` (all of them, and the write-type ones) with
// perf's tracepoints from `delayS` on for `forS` seconds: inside the load's
// measured interval. perf counts while its command (`sleep forS`) runs: its
// duration_time would be summed over the server's threads. Resolves with
// { seconds, calls, writes } or { failed }.
function countSyscalls(pid, delayS, forS) {
  return new Promise((resolve) => {
    const out = path.join(fs.mkdtempSync('/tmp/wsr-bench-'), 'perf.csv');
    let child = null;
    const done = (r) => {
      fs.rmSync(path.dirname(out), { recursive: true, force: true });
      resolve(r);
    };
    const start = setTimeout(() => {
      child = track(spawn('perf', ['stat', '-x', ',', '-o', out, '-e', SYSCALL_EVENTS.join(','),
                                   '-p', String(pid), '--', 'sleep', String(forS)],
                          { stdio: ['ignore', 'ignore', 'pipe'] }));
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      const kill = setTimeout(() => child.kill('SIGKILL'), (forS + 10) * 1000);
      child.on('error', (e) => done({ failed: `perf: ${e.message}` }));
      child.on('exit', (code) => {
        clearTimeout(kill);
        const counts = {};
        try {
          for (const line of fs.readFileSync(out, 'utf8').split('\n')) {
            const f = line.split(',');
            if (f.length >= 3 && /^\d+$/.test(f[0])) counts[f[2]] = Number(f[0]);
          }
        } catch {
          /* no output */
        }
        if (code !== 0 || !(counts['raw_syscalls:sys_enter'] > 0))
          return done({ failed: `perf stat counted nothing (exit ${code}): ${err.trim().slice(0, 200)}` });
        done({ seconds: forS, calls: counts['raw_syscalls:sys_enter'],
               writes: WRITE_CALLS.reduce((a, c) => a + (counts[`syscalls:sys_enter_${c}`] ?? 0), 0) });
      });
    }, delayS * 1000);
  });
}

/* --- statistics ------------------------------------------------------------------- */

function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// The figures of one run, flat.
function figures(r) {
  const f = { errors: r.errors, opened: r.opened };
  if (r.mode === 'idle') {
    f.kib_conn = r.server?.kib_per_connection ?? null;
    f.rss_before = r.server?.rss_before_kib ?? null;
    f.rss_after = r.server?.rss_after_kib ?? null;
  } else {
    Object.assign(f, { rps: r.rps, p50: r.latency_us.p50, p90: r.latency_us.p90,
                       p99: r.latency_us.p99, p999: r.latency_us.p999, max: r.latency_us.max,
                       cpu_us: r.server?.cpu_us_per_request ?? null,
                       sys_share: r.server?.cpu_s > 0 ? r.server.sys_s / r.server.cpu_s : null,
                       bg: r.host?.background_cpus ?? null, load_cpus: r.host?.load_cpus ?? null,
                       jain: r.per_connection?.jain ?? null,
                       min_max: r.per_connection && r.per_connection.max
                         ? r.per_connection.min / r.per_connection.max : null });
  }
  return f;
}

function summarize(runs) {
  const ok = runs.filter((x) => x.figures);
  const keys = ok.length ? Object.keys(ok[0].figures) : [];
  const m = { rounds: ok.length, failed: runs.length - ok.length,
              errors: ok.reduce((a, x) => a + x.figures.errors, 0) };
  for (const k of keys) if (k !== 'errors') m[k] = median(ok.map((x) => x.figures[k]));
  const rps = ok.map((x) => x.figures.rps).filter((x) => typeof x === 'number');
  if (rps.length > 1 && m.rps) m.spread = (Math.max(...rps) - Math.min(...rps)) / m.rps;
  return m;
}

/* --- the runs ---------------------------------------------------------------------------- */

// One fresh server, one load run, the server stopped: what we learnt.
async function measure(o, sc, sv) {
  let server;
  try {
    server = await startServer(o, sv.id, !!sc.tls);
  } catch (e) {
    return { failed: e.message };
  }
  // The counted window sits inside the measured one: 0.2 s in, 0.4 s short of its end.
  const sys = sc.syscalls && o.seconds > 0.8
    ? countSyscalls(server.pid, o.warmup + 0.2, o.seconds - 0.6) : null;
  const run = await runLoad(o, sc, server);
  const syscalls = sys ? await sys : null;
  const problem = await stopServer(server);
  const log = (problem ? server.log : server.logBeforeStop)
    .replace(/^.*(listening on|store:) .*$/gm, '').trim(); // start-up lines, no complaint
  const m = { failed: run.failed ?? null, serverProblem: problem, serverLog: log || null,
              note: run.note ?? null, raw: run.result };
  if (run.result && !run.failed) {
    m.figures = figures(run.result);
    if (syscalls?.failed) m.note = [m.note, syscalls.failed].filter(Boolean).join('; ');
    else if (syscalls && m.figures.rps > 0) {
      // Rates over perf's window, divided by the load's request rate.
      m.figures.sys_req = syscalls.calls / syscalls.seconds / m.figures.rps;
      m.figures.replies_write = syscalls.writes > 0 ? m.figures.rps / (syscalls.writes / syscalls.seconds) : null;
    }
  }
  return m;
}

// Can this machine hold IDLE_CONNECTIONS on both ends? null when it can.
function idleObstacle() {
  const limits = fs.readFileSync('/proc/self/limits', 'utf8').match(/Max open files\s+(\S+)/);
  const soft = limits && limits[1] !== 'unlimited' ? Number(limits[1]) : Infinity;
  const [lo, hi] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
    .trim().split(/\s+/).map(Number);
  if (soft < IDLE_CONNECTIONS + 64)
    return `the descriptor limit is ${soft}; ${IDLE_CONNECTIONS + 64} are needed (ulimit -Hn)`;
  if (hi - lo + 1 < IDLE_CONNECTIONS + 1000)
    return `net.ipv4.ip_local_port_range (${lo}-${hi}) has fewer than ${IDLE_CONNECTIONS + 1000} ports`;
  return null;
}

function progress(sc, round, sv, m) {
  const f = m.figures;
  let what;
  if (!f) what = `FAILED: ${m.failed}`;
  else if (sc.idle) what = `${f.kib_conn?.toFixed(2)} KiB/connection (${f.opened} open)`;
  else what = `${Math.round(f.rps)} req/s, p99 ${f.p99} us, CPU ${f.cpu_us?.toFixed(2)} us/req, ` +
    `others ${f.bg?.toFixed(2)} CPUs`;
  const errs = f && f.errors ? `, ${f.errors} ERRORS` : '';
  const prob = m.serverProblem ? `, server ${m.serverProblem}` : '';
  process.stdout.write(`  ${sc.id.padEnd(5)} round ${round + 1}  ${sv.title.padEnd(12)} ${what}${errs}${prob}\n`);
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const hard = setTimeout(() => {
    process.stderr.write('bench: still running after 15 minutes; giving up\n');
    process.exit(2);
  }, HARD_LIMIT_MS);
  hard.unref();
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'])
    process.on(sig, () => process.exit(130));

  const scenarios = SCENARIOS.filter((s) => !s.cluster && (!o.only || o.only.includes(s.id)));
  const withCluster = !o.only || o.only.includes('cluster');
  const runs = {}, skipped = {};
  process.stdout.write(`wsrouter benchmark: ${o.rounds} rounds x ${o.seconds} s (after ${o.warmup} s ` +
                       `of warm-up); servers on CPU 0, load on CPU 1\n`);
  for (const sc of scenarios) {
    runs[sc.id] = Object.fromEntries(SERVERS.map((sv) => [sv.id, []]));
    const obstacle = sc.idle ? idleObstacle() : null;
    if (obstacle) {
      skipped[sc.id] = obstacle;
      process.stdout.write(`  ${sc.id}: skipped: ${obstacle}\n`);
      continue;
    }
    for (let r = 0; r < o.rounds; r++) {
      for (let k = 0; k < SERVERS.length; k++) {
        const sv = SERVERS[(k + r) % SERVERS.length]; // rotate who goes first
        const m = await measure(o, sc, sv);
        runs[sc.id][sv.id].push(m);
        progress(sc, r, sv, m);
      }
    }
  }
  const rawIds = RAW_CASES.map((c) => c.id).filter((id) => !o.only || o.only.includes(id));
  const raw = rawIds.length
    ? await runRawCases({ ROOT, PDEATH, track, runLoad }, o, rawIds)
    : null;
  let cluster = null;
  if (withCluster) {
    const sc = SCENARIOS.find((s) => s.cluster);
    cluster = { title: sc.title, servers: CLUSTER_SERVERS, pubs: o['cluster-pubs'], workers: o['cluster-workers'],
                runs: Object.fromEntries(CLUSTER_SERVERS.map((sv) => [sv.id, []])) };
    for (let r = 0; r < o.rounds; r++) {
      const first = CLUSTER_SERVERS[r % CLUSTER_SERVERS.length].id; // alternate who goes first
      process.stdout.write(`  cluster round ${r + 1}: ${o['cluster-pubs']} publications to 2 × 1000 ` +
                           `subscribers on each side, ${first} first\n`);
      const res = await runCluster(o, first);
      for (const sv of CLUSTER_SERVERS) {
        const m = res[sv.id];
        cluster.runs[sv.id].push(m);
        const f = m.figures;
        const what = !f ? `FAILED: ${m.failed}`
          : `${f.dps} deliveries/s, p50 ${f.p50} ms, p99 ${f.p99} ms, all answered in ${f.pub_s} s, ` +
            `CPU: nodes ${f.cpu_s} s, subscribers ${f.sub_cpu_s} s` +
            (f.errors ? `, ERRORS: ${m.errorList.join('; ')}` : '');
        process.stdout.write(`  cluster round ${r + 1}  ${sv.title.padEnd(12)} ${what}\n`);
      }
    }
    cluster.summary = Object.fromEntries(CLUSTER_SERVERS.map((sv) => [sv.id, summarize(cluster.runs[sv.id])]));
  }
  const profile = await runProfile(o);
  const seconds = (Date.now() - started) / 1000;
  const summary = {};
  for (const sc of scenarios)
    summary[sc.id] = Object.fromEntries(SERVERS.map((sv) => [sv.id, summarize(runs[sc.id][sv.id])]));
  const ctx = { o, scenarios, servers: SERVERS, runs, summary, skipped, seconds, profile, raw, cluster,
                machine: machine(o) };
  process.stdout.write('\n' + terminalReport(ctx));
  if (o.out !== '-') {
    // The soak's section (`make soak`, tests/bench/soak.mjs) is kept.
    // So is the cluster's (issue 14) when this run did not measure it, and a
    // run of the cluster alone (--only cluster) replaces only that section.
    const file = path.resolve(ROOT, o.out);
    const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    const soak = /<!-- soak:[\s\S]*?<!-- \/soak -->\n?/.exec(old);
    const CLUSTER_RE = /<!-- cluster:[\s\S]*?<!-- \/cluster -->\n?/;
    const oldCluster = CLUSTER_RE.exec(old);
    let text;
    if (o.only && o.only.length === 1 && cluster && old) {
      const at = old.indexOf('## Where the time goes');
      text = oldCluster ? old.replace(CLUSTER_RE, () => clusterSection(ctx))
        : at >= 0 ? `${old.slice(0, at)}${clusterSection(ctx)}\n${old.slice(at)}`
        : `${old}\n${clusterSection(ctx)}`;
    } else {
      text = markdownReport(ctx);
      if (!cluster && oldCluster) text = text.replace(CLUSTER_RE, () => oldCluster[0]);
      text += soak ? `\n${soak[0]}` : '';
    }
    fs.writeFileSync(file, text);
    process.stdout.write(`\nwrote ${o.out} (${seconds.toFixed(0)} s)\n`);
  }
  const bad = problems(ctx);
  if (bad.length) {
    process.stdout.write(`\nbench: ${bad.length} problem(s), see above and in ${o.out}\n`);
    process.exitCode = 1;
  }
}

main().catch((e) => {
  process.stderr.write(`bench: ${e.stack || e}\n`);
  process.exit(1);
});
