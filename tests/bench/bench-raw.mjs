// SPDX-License-Identifier: MIT
/*
 * The raw TCP cases of the benchmark (GitHub issue 13), run by bench.mjs after
 * the WebSocket scenarios:
 *
 *   ndjson  wsrouterd's raw port, NDJSON lines, 100 connections × 16 in flight,
 *           against the same load over WebSocket on the same wsrouterd command;
 *           target: NDJSON ≥ 1.2× the WebSocket req/s.
 *   resp    `redis-benchmark -t ping` (PING_INLINE and PING_MBULK, the same -c,
 *           -n and pinning) against a real redis-server (Debian's, on its own
 *           free port and temporary directory) and against wsrouterd's raw port;
 *           target: wsrouterd ≥ 0.8× redis-server on each.
 *
 * Every round starts each server afresh on CPU 0 and runs the load on CPU 1,
 * in an order that rotates from round to round; the ratios are of medians of
 * the same run, and every round's figures are kept. Before redis-benchmark
 * runs, each server must answer PING (RESP and inline) with +PONG; an error
 * reply makes redis-benchmark (7.0 and later) exit at once, which fails the run.
 * Loopback only; every process started is stopped by its own pid.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const RAW_CASES = [
  { id: 'ndjson', title: 'raw NDJSON vs WebSocket, 100 connections × 16' },
  { id: 'resp', title: 'RESP ping: redis-benchmark -t ping against redis-server and wsrouterd' },
];

export const NDJSON_TARGET = 1.2;
export const RESP_TARGET = 0.8;
export const RESP_CLIENTS = 50;
const RESP_TESTS = ['PING_INLINE', 'PING_MBULK'];
const START_TIMEOUT_MS = 10000;
const STOP_TIMEOUT_MS = 5000;

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

// Spawns argv on `cpu`; resolves when its output matches every regex of `want`.
function startPinned(h, cpu, argv, want, label) {
  const child = h.track(spawn('taskset', ['-c', String(cpu), ...h.PDEATH, ...argv],
                              { cwd: h.ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
  const s = { label, child, pid: child.pid, log: '', match: [], exited: null };
  child.on('exit', (code, sig) => (s.exited = sig ? `signal ${sig}` : `exit ${code}`));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${label} was not ready within ${START_TIMEOUT_MS / 1000} s: ${s.log.trim()}`));
    }, START_TIMEOUT_MS);
    const onData = (d) => {
      s.log += d;
      const m = want.map((re) => re.exec(s.log));
      if (m.every(Boolean) && s.match.length === 0) {
        s.match = m;
        clearTimeout(timer);
        resolve(s);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', () => {
      clearTimeout(timer);
      reject(new Error(`${label} ended before it was ready (${s.exited}): ${s.log.trim()}`));
    });
  });
}

// SIGTERM by pid, then SIGKILL. Returns what went wrong, or null.
async function stopPinned(s) {
  const crashed = s.exited;
  s.logBeforeStop = s.log;
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

function startWsrouterd(h, o) {
  return startPinned(h, 0, [o.wsrouterd, '--port', '0', '--raw-port', '0', '--io-threads', '1',
                            '--modules', 'examples', '--store', '', '--log-level', 'err',
                            // As in bench.mjs: the baselines have no limiter, and 100 × 16
                            // goes past the default 5000 requests a second per connection.
                            '--set', 'rate_limit_connection=0'],
                     [/listening on (ws:\/\/127\.0\.0\.1:\d+\/)/, /listening on (tcp:\/\/127\.0\.0\.1:(\d+)\/)/],
                     'wsrouterd');
}

// A port nobody listens on right now (redis-server's --port 0 means no TCP at all).
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function startRedis(h) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsr-bench-redis-'));
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    try {
      const s = await startPinned(h, 0, ['redis-server', '--port', String(port), '--bind', '127.0.0.1',
                                         '--dir', dir, '--save', '', '--appendonly', 'no',
                                         '--daemonize', 'no', '--logfile', '', '--loglevel', 'notice'],
                                  [/Ready to accept connections/], 'redis-server');
      s.port = port;
      s.dir = dir;
      return s;
    } catch (e) {
      if (attempt >= 2) {
        fs.rmSync(dir, { recursive: true, force: true });
        throw e;
      }
    }
  }
}

// Sends `bytes` on a fresh connection; resolves with the first reply line.
function ask(port, bytes) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    const done = (v) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(`no reply within 2 s (got ${JSON.stringify(got)})`), 2000);
    sock.on('connect', () => sock.write(bytes));
    sock.on('data', (d) => {
      got += d;
      if (got.includes('\r\n')) done(got.slice(0, got.indexOf('\r\n') + 2));
    });
    sock.on('error', (e) => done(`error: ${e.message}`));
  });
}

// Both servers must answer PING with +PONG, as RESP and as an inline command.
async function checkPong(port) {
  for (const [how, bytes] of [['RESP', '*1\r\n$4\r\nPING\r\n'], ['inline', 'PING\r\n']]) {
    const r = await ask(port, bytes);
    if (r !== '+PONG\r\n') return `${how} PING was answered ${JSON.stringify(r)}, not "+PONG\\r\\n"`;
  }
  return null;
}

function cpuSeconds(pid) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, clock ticks of 1/100 s
  } catch {
    return null;
  }
}

// redis-benchmark -t ping on CPU 1: { PING_INLINE: {rps, p50, p99}, ..., errors }.
function redisBenchmark(h, o, port) {
  const n = String(Math.round(o.respRequests));
  const args = ['-c', '1', ...h.PDEATH, 'redis-benchmark', '-h', '127.0.0.1', '-p', String(port),
                '-t', 'ping', '-c', String(RESP_CLIENTS), '-n', n, '--csv'];
  const child = h.track(spawn('taskset', args, { cwd: h.ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '', err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 120000);
  return new Promise((resolve) => {
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      const r = { errors: 0, lines: [] };
      for (const line of out.split('\n')) {
        const f = line.split(',').map((x) => x.replace(/^"|"$/g, ''));
        if (RESP_TESTS.includes(f[0]) && f.length >= 8)
          r[f[0]] = { rps: Number(f[1]), avg_ms: Number(f[2]), p50_ms: Number(f[4]), p99_ms: Number(f[6]) };
        else if (/error/i.test(line)) {
          r.errors++;
          r.lines.push(line.trim());
        }
      }
      const missing = RESP_TESTS.filter((t) => !r[t]);
      if (code !== 0 || missing.length)
        r.failed = `redis-benchmark ${sig ? 'killed' : `exit ${code}`}` +
          `${missing.length ? `, no figure for ${missing.join(', ')}` : ''}: ${(err || out).trim().slice(0, 300)}`;
      // Its CONFIG GET at start-up is refused by wsrouterd: that warning is expected.
      r.note = err.replace(/^WARNING: Could not fetch server CONFIG\s*$/gm, '').trim() || null;
      resolve(r);
    });
  });
}

/* --- the runs --------------------------------------------------------------------- */

async function ndjsonRun(h, o, via) {
  let s;
  try {
    s = await startWsrouterd(h, o);
  } catch (e) {
    return { via, failed: e.message };
  }
  const url = via === 'tcp' ? s.match[1][1] : s.match[0][1];
  const run = await h.runLoad(o, { args: ['-c', '100', '-p', '16'] }, { pid: s.pid, url });
  const problem = await stopPinned(s);
  const log = (problem ? s.log : s.logBeforeStop).replace(/^.*(listening on|store:) .*$/gm, '').trim();
  const m = { via, failed: run.failed ?? null, serverProblem: problem, serverLog: log || null,
              note: run.note ?? null, raw: run.result };
  if (run.result && !run.failed)
    m.figures = { rps: run.result.rps, p99: run.result.latency_us.p99,
                  cpu_us: run.result.server?.cpu_us_per_request ?? null,
                  bg: run.result.host?.background_cpus ?? null, errors: run.result.errors };
  return m;
}

async function respRun(h, o, kind) {
  let s;
  try {
    s = kind === 'redis' ? await startRedis(h) : await startWsrouterd(h, o);
  } catch (e) {
    return { kind, failed: e.message };
  }
  const port = kind === 'redis' ? s.port : Number(s.match[1][2]);
  const m = { kind, failed: null, serverProblem: null, serverLog: null, note: null };
  m.failed = await checkPong(port);
  if (!m.failed) {
    const c0 = cpuSeconds(s.pid);
    const r = await redisBenchmark(h, o, port);
    const c1 = cpuSeconds(s.pid);
    m.failed = r.failed ?? null;
    m.note = r.note;
    m.errors = r.errors;
    m.errorLines = r.lines;
    if (!r.failed) {
      m.figures = { inline: r.PING_INLINE, mbulk: r.PING_MBULK,
                    cpu_us: c0 != null && c1 != null ? ((c1 - c0) * 1e6) / (2 * o.respRequests) : null };
    }
  }
  m.serverProblem = await stopPinned(s);
  if (kind === 'wsrouter') {
    const log = (m.serverProblem ? s.log : s.logBeforeStop)
      .replace(/^.*(listening on|store:) .*$/gm, '').trim();
    m.serverLog = log || null;
  } else {
    fs.rmSync(s.dir, { recursive: true, force: true });
  }
  return m;
}

function line(_h, text) {
  process.stdout.write(`  ${text}\n`);
}

// Runs the cases asked for; returns their runs, for rawReport().
export async function runRawCases(h, o, ids) {
  const out = { ndjson: null, resp: null, respRequests: o.respRequests };
  if (ids.includes('ndjson')) {
    out.ndjson = [];
    for (let r = 0; r < o.rounds; r++) {
      const order = r % 2 ? ['tcp', 'ws'] : ['ws', 'tcp'];
      const round = {};
      for (const via of order) {
        const m = await ndjsonRun(h, o, via);
        round[via] = m;
        const f = m.figures;
        line(h, `ndjson round ${r + 1}  ${via === 'tcp' ? 'raw NDJSON' : 'WebSocket '} ` +
             (f ? `${Math.round(f.rps)} req/s, p99 ${f.p99} us, CPU ${f.cpu_us?.toFixed(2)} us/req, ` +
                  `others ${f.bg?.toFixed(2)} CPUs${f.errors ? `, ${f.errors} ERRORS` : ''}`
               : `FAILED: ${m.failed}`));
      }
      out.ndjson.push(round);
    }
  }
  if (ids.includes('resp')) {
    if (!hasCommand('redis-server') || !hasCommand('redis-benchmark')) {
      out.resp = { skipped: 'redis-server or redis-benchmark is not installed (Debian: redis-server, redis-tools)' };
      line(h, `resp: skipped: ${out.resp.skipped}`);
    } else {
      out.resp = [];
      for (let r = 0; r < o.rounds; r++) {
        const order = r % 2 ? ['wsrouter', 'redis'] : ['redis', 'wsrouter'];
        const round = {};
        for (const kind of order) {
          const m = await respRun(h, o, kind);
          round[kind] = m;
          const f = m.figures;
          line(h, `resp   round ${r + 1}  ${kind === 'redis' ? 'redis-server' : 'wsrouterd   '} ` +
               (f ? `PING_INLINE ${Math.round(f.inline.rps)} req/s, PING_MBULK ${Math.round(f.mbulk.rps)} req/s, ` +
                    `CPU ${f.cpu_us?.toFixed(2)} us/req${m.errors ? `, ${m.errors} ERRORS` : ''}`
                 : `FAILED: ${m.failed}`));
        }
        out.resp.push(round);
      }
    }
  }
  return out;
}

function hasCommand(cmd) {
  return (process.env.PATH || '').split(':').some((d) => {
    try {
      fs.accessSync(path.join(d, cmd), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/* --- the report --------------------------------------------------------------------- */

function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

const int = (v) => (v == null ? 'n/a' : Math.round(v).toLocaleString('en-US'));
const x2 = (v) => (v == null ? 'n/a' : `${v.toFixed(2)}×`);
const cpu = (v) => (v == null ? 'n/a' : v.toFixed(2));
const met = (r, t) => (r == null ? 'n/a' : r >= t ? 'met' : 'NOT met');

// The figures: { targets: rows, rounds: rows, problems: [...] }.
export function rawSummary(raw) {
  const s = { targets: [], ndjsonRounds: [], respRounds: [], problems: [] };
  if (!raw) return s;
  if (raw.ndjson) {
    const ws = median(raw.ndjson.map((r) => r.ws?.figures?.rps));
    const tcp = median(raw.ndjson.map((r) => r.tcp?.figures?.rps));
    const ratio = ws && tcp != null ? tcp / ws : null;
    s.targets.push(['raw NDJSON ÷ WebSocket, 100×16 req/s', int(tcp), int(ws), x2(ratio),
                    `≥ ${NDJSON_TARGET}×`, met(ratio, NDJSON_TARGET)]);
    raw.ndjson.forEach((r, i) => {
      const t = r.tcp?.figures, w = r.ws?.figures;
      s.ndjsonRounds.push([`round ${i + 1}`, t ? int(t.rps) : 'failed', w ? int(w.rps) : 'failed',
                           t && w ? x2(t.rps / w.rps) : 'n/a', t ? cpu(t.cpu_us) : 'n/a',
                           w ? cpu(w.cpu_us) : 'n/a', t && w ? `${cpu(t.bg)} / ${cpu(w.bg)}` : 'n/a']);
      for (const m of [r.tcp, r.ws]) problemsOf(s.problems, `ndjson round ${i + 1}, ${m?.via}`, m);
    });
  }
  if (raw.resp?.skipped) {
    s.problems.push(`resp: skipped: ${raw.resp.skipped}`);
  } else if (raw.resp) {
    for (const [key, name] of [['inline', 'PING_INLINE'], ['mbulk', 'PING_MBULK']]) {
      const w = median(raw.resp.map((r) => r.wsrouter?.figures?.[key]?.rps));
      const rd = median(raw.resp.map((r) => r.redis?.figures?.[key]?.rps));
      const ratio = rd && w != null ? w / rd : null;
      s.targets.push([`RESP ${name}, wsrouterd ÷ redis-server req/s`, int(w), int(rd), x2(ratio),
                      `≥ ${RESP_TARGET}×`, met(ratio, RESP_TARGET)]);
    }
    raw.resp.forEach((r, i) => {
      const w = r.wsrouter?.figures, rd = r.redis?.figures;
      s.respRounds.push([`round ${i + 1}`,
                         w ? int(w.inline.rps) : 'failed', rd ? int(rd.inline.rps) : 'failed',
                         w && rd ? x2(w.inline.rps / rd.inline.rps) : 'n/a',
                         w ? int(w.mbulk.rps) : 'failed', rd ? int(rd.mbulk.rps) : 'failed',
                         w && rd ? x2(w.mbulk.rps / rd.mbulk.rps) : 'n/a',
                         w ? cpu(w.cpu_us) : 'n/a', rd ? cpu(rd.cpu_us) : 'n/a']);
      for (const m of [r.wsrouter, r.redis]) problemsOf(s.problems, `resp round ${i + 1}, ${m?.kind}`, m);
    });
  }
  return s;
}

function problemsOf(out, where, m) {
  if (!m) return;
  if (m.failed) out.push(`${where}: run failed: ${m.failed}`);
  const e = m.raw?.errors ? m.raw.error_detail : null;
  if (e) {
    const parts = Object.entries(e).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`);
    out.push(`${where}: ${m.raw.errors} errors (${parts.join(', ')})`);
  }
  if (m.errors) out.push(`${where}: ${m.errors} error replies: ${m.errorLines.slice(0, 2).join(' | ')}`);
  if (m.serverProblem) out.push(`${where}: the server ${m.serverProblem}`);
  if (m.serverLog) out.push(`${where}: the server said: ${m.serverLog.slice(0, 300)}`);
  if (m.note) out.push(`${where}: the load generator said: ${m.note.slice(0, 300)}`);
}

export const TARGET_HEAD = ['', 'wsrouterd', 'baseline', 'ratio', 'target', 'met'];
export const NDJSON_HEAD = ['NDJSON', 'raw req/s', 'WebSocket req/s', 'ratio', 'raw CPU µs/req',
                            'WS CPU µs/req', 'others CPUs'];
export const RESP_HEAD = ['RESP', 'wsr INLINE', 'redis INLINE', 'ratio', 'wsr MBULK', 'redis MBULK',
                          'ratio', 'wsr CPU µs/req', 'redis CPU µs/req'];

export function rawMarkdown(raw, mdTable, o) {
  const s = rawSummary(raw);
  if (!s.targets.length && !s.problems.length) return '';
  let t = `## Raw TCP (issue 13)

wsrouterd's raw TCP port (\`--raw-port 0\`) against its own WebSocket port and against
redis-server, measured in this same run. Every round starts each server afresh on CPU 0,
with the load on CPU 1, in an order that alternates from round to round; the ratios are
of the medians of the ${o.rounds} rounds, and every round is listed. On a shared machine
the throughput depends on what the other tenants leave (*others CPUs*, as above): when they
keep both CPUs busy neither side runs flat out, and the ratios move by tens of per cent
from round to round; the CPU per request is steadier. Instructions per request for the
raw path, and what changed them: \`tests/bench/README.md\`, "Raw TCP".

${mdTable(TARGET_HEAD, s.targets)}`;
  if (s.ndjsonRounds.length)
    t += `
**NDJSON.** \`wsr-load -c 100 -p 16\` with \`{"cmd":"add","args":{"x":X,"y":2},"id":N}\`,
once to \`ws://\` and once to \`tcp://\` (one line per request, every reply matched by its id and
checked), on \`wsrouterd --port 0 --raw-port 0 --io-threads 1 --modules examples --store "" --set rate_limit_connection=0\`.

${mdTable(NDJSON_HEAD, s.ndjsonRounds)}`;
  if (s.respRounds.length)
    t += `
**RESP.** \`redis-benchmark -t ping -c ${RESP_CLIENTS} -n ${raw.respRequests} --csv\` on CPU 1, against
redis-server ${redisVersion()} (\`--save "" --appendonly no\`, its own free port and temporary
directory) and against the same wsrouterd's raw port; each must first answer a RESP and an
inline \`PING\` with \`+PONG\`, and an error reply makes redis-benchmark stop and the run
fail. PING_INLINE is told apart by wsrouterd as a text-lines
connection (first byte \`P\`), PING_MBULK as RESP (\`*\`). CPU per request is the server's
utime + stime over both tests.

${mdTable(RESP_HEAD, s.respRounds)}`;
  return t; // its problems are listed with the others'
}

export function rawTerminal(raw, textTable) {
  const s = rawSummary(raw);
  if (!s.targets.length && !s.problems.length) return '';
  let t = '\nRaw TCP (issue 13; medians of the rounds, ratios of this run)\n' +
          textTable(TARGET_HEAD, s.targets);
  if (s.ndjsonRounds.length) t += '\n' + textTable(NDJSON_HEAD, s.ndjsonRounds);
  if (s.respRounds.length) t += '\n' + textTable(RESP_HEAD, s.respRounds);
  return t;
}

function redisVersion() {
  try {
    const v = /v=(\S+)/.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }));
    return v ? v[1] : '';
  } catch {
    return '';
  }
}
