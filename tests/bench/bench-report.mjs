// SPDX-License-Identifier: MIT
/*
 * The benchmark's report: from the medians bench.mjs computed, the headline
 * (the issue's four targets with wsrouterd's ratios to minimal-lws and
 * node-ws), a ratio table for every scenario, the full figures, the rounds
 * themselves (to show the noise), the machine, and every problem seen (failed
 * runs, counted errors, servers that crashed or complained). It formats; it
 * never measures and never starts a process other than version queries.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { rawMarkdown, rawSummary, rawTerminal } from './bench-raw.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NOISY = 0.25; // CPUs of other work during a run that mark it noisy

/* --- the machine -------------------------------------------------------------------- */

function sh(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

export function machine(o) {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const dpkg = (p) => sh('dpkg-query', ['-W', '-f=${Version}', p]);
  const npmVersion = (name) => {
    try {
      return JSON.parse(fs.readFileSync(path.join(ROOT, 'tests/node_modules', name, 'package.json'))).version;
    } catch {
      return 'unknown';
    }
  };
  const ws = npmVersion('ws');
  const dirty = sh('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no', '--',
                           'src', 'include', 'routes', 'CMakeLists.txt']);
  return {
    date: new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC'),
    nproc: sh('nproc', []),
    cpu: (cpuinfo.match(/^model name\s*:\s*(.*)$/m) || [null, 'unknown'])[1],
    kernel: `${os.type()} ${os.release()}`,
    lws: dpkg('libwebsockets-dev'),
    jansson: dpkg('libjansson-dev'),
    openssl: sh('openssl', ['version']),
    node: process.version,
    ws,
    socketio: npmVersion('socket.io'),
    redisAdapter: npmVersion('@socket.io/redis-adapter'),
    redis: npmVersion('redis'),
    redisServer: sh('redis-server', ['--version']).replace(/^Redis server v=(\S+).*$/, '$1'),
    commit: sh('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']),
    dirty: dirty !== '' && dirty !== 'unknown',
    wsrouterd: o.wsrouterd,
  };
}

/* --- formatting ---------------------------------------------------------------------- */

const nf = (v, d) => v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
const fmt = {
  int: (v) => (v == null ? 'n/a' : nf(v, 0)),
  us: (v) => (v == null ? 'n/a' : v < 100 ? nf(v, 1) : nf(v, 0)),
  cpu: (v) => (v == null ? 'n/a' : nf(v, 2)),
  kib: (v) => (v == null ? 'n/a' : nf(v, 2)),
  pct: (v) => (v == null ? '' : `${nf(100 * v, 0)}%`),
  fair: (m) => (m.jain == null ? 'n/a' : `${nf(m.jain, 3)} (${nf(m.min_max, 2)})`),
};

function ratio(a, b) {
  return a == null || b == null || b === 0 ? null : a / b;
}

const fmtRatio = (r) => (r == null ? 'n/a' : `${r.toFixed(2)}×`);

// Columns padded to their widest cell; numbers right-aligned.
// The first `left` columns are text, the others numbers.
function textTable(head, rows, left = 1) {
  const all = [head, ...rows];
  const w = head.map((_, i) => Math.max(...all.map((r) => String(r[i]).length)));
  const line = (r) => r.map((c, i) => (i < left ? String(c).padEnd(w[i]) : String(c).padStart(w[i])))
    .join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n') + '\n';
}

function mdTable(head, rows, left = 1) {
  const esc = (c) => String(c).replace(/\|/g, '\\|');
  return [`| ${head.map(esc).join(' | ')} |`,
          `|${head.map((_, i) => (i < left ? ' --- ' : ' ---: ')).join('|')}|`,
          ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n') + '\n';
}

/* --- the tables ---------------------------------------------------------------------- */

// The issue's targets, each with the scenario and figure it is about.
const TARGETS = [
  { name: 'throughput, 100×16 (req/s)', sc: 'tput', key: 'rps', fmt: fmt.int,
    target: '≥ 1.0× lws and ≥ 2.5× node', met: (w, l, n) => w / l >= 1.0 && w / n >= 2.5 },
  { name: 'server CPU per request, 100×16 (µs)', sc: 'tput', key: 'cpu_us', fmt: fmt.cpu,
    target: '≤ 12 µs', met: (w) => w <= 12 },
  { name: 'RSS per idle connection (KiB)', sc: 'idle', key: 'kib_conn', fmt: fmt.kib,
    target: '≤ 2 KiB', met: (w) => w <= 2 },
  { name: 'p99 latency, 1×1 (µs)', sc: 'lat', key: 'p99', fmt: fmt.us,
    target: '≤ 1.2× lws', met: (w, l) => w / l <= 1.2 },
];

function headline(ctx) {
  const head = ['', 'wsrouterd', 'minimal-lws', 'node-ws', 'wsr/lws', 'wsr/node', 'target', 'met'];
  const rows = [];
  for (const t of TARGETS) {
    const S = ctx.summary[t.sc];
    if (!S) continue;
    const [w, l, n] = ['wsrouter', 'lws', 'node'].map((id) => S[id][t.key]);
    const ok = w == null || l == null || n == null ? 'n/a' : t.met(w, l, n) ? 'met' : 'NOT met';
    rows.push([t.name, t.fmt(w), t.fmt(l), t.fmt(n), fmtRatio(ratio(w, l)), fmtRatio(ratio(w, n)),
               t.target, ok]);
  }
  return { head, rows };
}

// Issue 19's transport targets, counted by perf over the measured interval
// of 100 × 16 (bench.mjs countSyscalls), for every server side by side.
const TRANSPORT_TARGETS = [
  { name: 'syscalls per request, 100×16', key: 'sys_req', fmt: (v) => (v == null ? 'n/a' : nf(v, 3)),
    target: '≤ 0.15', met: (w) => w <= 0.15 },
  { name: 'replies per send, 100×16', key: 'replies_write', fmt: (v) => (v == null ? 'n/a' : nf(v, 1)),
    target: '≥ 12', met: (w) => w >= 12 },
];

// Issue 19's targets all in one table: the figure when the issue was filed,
// this run's, and the target. Instructions come from the profile (callgrind),
// ratios from the scenarios measured side by side in this run.
const ROUND_TWO = [
  { name: 'instructions per `add` request (callgrind)', filed: '12,904', target: '≤ 6,500',
    get: (c) => c.profile?.per_request ?? null, fmt: fmt.int, met: (v) => v <= 6500 },
  { name: 'syscalls per request, 100 × 16', filed: '0.60', target: '≤ 0.15',
    get: (c) => c.summary.tput?.wsrouter?.sys_req ?? null, fmt: (v) => nf(v, 3), met: (v) => v <= 0.15 },
  { name: 'replies per `send`, 100 × 16', filed: '~5', target: '≥ 12',
    get: (c) => c.summary.tput?.wsrouter?.replies_write ?? null, fmt: (v) => nf(v, 1), met: (v) => v >= 12 },
  { name: 'RSS per idle WebSocket connection (KiB)', filed: '1.70', target: '≤ 1.0',
    get: (c) => c.summary.idle?.wsrouter?.kib_conn ?? null, fmt: fmt.kib, met: (v) => v <= 1.0 },
  { name: 'throughput 100 × 1 ÷ minimal-lws', filed: '1.37×', target: '≥ 1.6×',
    get: (c) => ratio(c.summary.c100?.wsrouter?.rps, c.summary.c100?.lws?.rps), fmt: fmtRatio, met: (v) => v >= 1.6 },
  { name: '64 KiB echo ÷ Node ws', filed: '0.95×', target: '≥ 1.3×',
    get: (c) => ratio(c.summary.echo?.wsrouter?.rps, c.summary.echo?.node?.rps), fmt: fmtRatio, met: (v) => v >= 1.3 },
  { name: '1,000 connections over wss:// ÷ minimal-lws', filed: '1.04×', target: '≥ 1.3×',
    get: (c) => ratio(c.summary.wss?.wsrouter?.rps, c.summary.wss?.lws?.rps), fmt: fmtRatio, met: (v) => v >= 1.3 },
  { name: 'compression on: instructions per request ÷ off, small messages', filed: '(new)', target: '≤ 2×',
    get: (c) => ratio(c.profile?.compressed?.per_request, c.profile?.per_request), fmt: fmtRatio, met: (v) => v <= 2 },
];

function roundTwo(ctx) {
  const head = ['figure', 'when filed', 'this run', 'target', 'met'];
  const rows = ROUND_TWO.map((t) => {
    const v = t.get(ctx);
    const ok = v == null || !Number.isFinite(v) ? null : t.met(v);
    return [t.name, t.filed, ok == null ? 'not measured' : t.fmt(v), t.target,
            ok == null ? 'n/a' : ok ? 'met' : 'NOT met'];
  });
  return { head, rows };
}

// For the throughput ratios of issue 19: each server's CPU per request split
// into kernel and user time, and the ratio wsrouterd could reach against
// minimal-lws if its own user-space work took no time at all (the server runs
// flat out on its CPU in these scenarios, so throughput goes as 1 / CPU).
function cpuSplit(ctx) {
  const head = ['scenario', 'wsr kernel µs', 'wsr user µs', 'lws kernel µs', 'lws user µs',
                'ratio now', 'ceiling (wsr user = 0)'];
  const rows = [];
  for (const id of ['c100', 'wss']) {
    const S = ctx.summary[id];
    const sc = ctx.scenarios.find((x) => x.id === id);
    if (!S || !sc) continue;
    const w = S.wsrouter, l = S.lws;
    if (w?.cpu_us == null || w.sys_share == null || l?.cpu_us == null || l.sys_share == null) continue;
    const wk = w.cpu_us * w.sys_share, lk = l.cpu_us * l.sys_share;
    rows.push([sc.title, nf(wk, 2), nf(w.cpu_us - wk, 2), nf(lk, 2), nf(l.cpu_us - lk, 2),
               fmtRatio(ratio(w.rps, l.rps)), fmtRatio(wk > 0 ? l.cpu_us / wk : null)]);
  }
  return { head, rows };
}

function transport(ctx) {
  const head = ['', 'wsrouterd', 'minimal-lws', 'node-ws', 'target', 'met'];
  const S = ctx.summary.tput;
  if (!S) return { head, rows: [] };
  const rows = TRANSPORT_TARGETS.map((t) => {
    const [w, l, n] = ['wsrouter', 'lws', 'node'].map((id) => S[id]?.[t.key] ?? null);
    return [t.name, t.fmt(w), t.fmt(l), t.fmt(n), t.target, w == null ? 'n/a' : t.met(w) ? 'met' : 'NOT met'];
  });
  return { head, rows };
}

// wsrouterd / each baseline, for every scenario and figure.
function ratios(ctx) {
  const head = ['scenario', 'req/s ÷lws', '÷node', 'p99 ÷lws', '÷node', 'CPU/req ÷lws', '÷node',
                'KiB/conn ÷lws', '÷node'];
  const rows = ctx.scenarios.filter((sc) => ctx.summary[sc.id]).map((sc) => {
    const S = ctx.summary[sc.id];
    const r = (k) => [fmtRatio(ratio(S.wsrouter[k], S.lws[k])), fmtRatio(ratio(S.wsrouter[k], S.node[k]))];
    return sc.idle ? [sc.title, '', '', '', '', '', '', ...r('kib_conn')]
      : [sc.title, ...r('rps'), ...r('p99'), ...r('cpu_us'), '', ''];
  });
  return { head, rows };
}

function figuresTables(ctx) {
  const load = { head: ['scenario', 'server', 'req/s', 'spread', 'p50 µs', 'p90 µs', 'p99 µs',
                        'p99.9 µs', 'max µs', 'CPU µs/req', 'fairness', 'others CPUs', 'errors'],
                rows: [] };
  const idle = { head: ['scenario', 'server', 'open', 'RSS before KiB', 'RSS after KiB',
                        'KiB/conn', 'errors'], rows: [] };
  for (const sc of ctx.scenarios) {
    for (const sv of ctx.servers) {
      const m = ctx.summary[sc.id]?.[sv.id];
      if (!m || m.rounds === 0) continue;
      if (sc.idle)
        idle.rows.push([sc.title, sv.title, fmt.int(m.opened), fmt.int(m.rss_before),
                        fmt.int(m.rss_after), fmt.kib(m.kib_conn), m.errors]);
      else
        load.rows.push([sc.title, sv.title, fmt.int(m.rps), fmt.pct(m.spread), fmt.us(m.p50),
                        fmt.us(m.p90), fmt.us(m.p99), fmt.us(m.p999), fmt.us(m.max),
                        fmt.cpu(m.cpu_us), fmt.fair(m), fmt.cpu(m.bg), m.errors]);
    }
  }
  return { load, idle };
}

// Every round's main figure, to show the noise.
function roundsTable(ctx) {
  const head = ['scenario', 'server', ...Array.from({ length: ctx.o.rounds }, (_, i) => `round ${i + 1}`)];
  const rows = [];
  for (const sc of ctx.scenarios) {
    for (const sv of ctx.servers) {
      const runs = ctx.runs[sc.id]?.[sv.id] ?? [];
      if (runs.length === 0) continue;
      rows.push([sc.title, sv.title, ...runs.map((m) => (!m.figures ? 'failed'
        : sc.idle ? `${fmt.kib(m.figures.kib_conn)} KiB/conn`
        : `${fmt.int(m.figures.rps)} req/s${m.figures.bg >= NOISY ? ` (others ${fmt.cpu(m.figures.bg)})` : ''}`))]);
    }
  }
  return { head, rows };
}

// How many measured runs shared the machine with NOISY CPUs or more of other work.
function noise(ctx) {
  let all = 0, noisy = 0;
  for (const sc of ctx.scenarios)
    for (const sv of ctx.servers)
      for (const m of ctx.runs[sc.id]?.[sv.id] ?? [])
        if (m.figures?.bg != null) {
          all++;
          noisy += m.figures.bg >= NOISY;
        }
  return `Noise: ${noisy} of ${all} measured runs had ${NOISY} CPUs or more of other work ` +
         'on the machine (other tenants, softirq); see "others" in the figures.';
}

export function problems(ctx) {
  const out = [...rawSummary(ctx.raw).problems, ...clusterProblems(ctx)];
  for (const [id, why] of Object.entries(ctx.skipped)) out.push(`${id}: skipped: ${why}`);
  for (const sc of ctx.scenarios) {
    for (const sv of ctx.servers) {
      (ctx.runs[sc.id]?.[sv.id] ?? []).forEach((m, i) => {
        const where = `${sc.title}, ${sv.title}, round ${i + 1}`;
        if (m.failed) out.push(`${where}: run failed: ${m.failed}`);
        const e = m.raw?.errors ? m.raw.error_detail : null;
        if (e) {
          const parts = Object.entries(e).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`);
          out.push(`${where}: ${m.raw.errors} errors (${parts.join(', ')})`);
        }
        if (m.serverProblem) out.push(`${where}: the server ${m.serverProblem}`);
        if (m.serverLog) out.push(`${where}: the server said: ${m.serverLog.slice(0, 300)}`);
        if (m.note) out.push(`${where}: wsr-load said: ${m.note.slice(0, 300)}`);
      });
    }
  }
  return out;
}

/* --- the cluster scenario (issue 14) ---------------------------------------------------- */

// Issue 14's targets: wsrouterd against Socket.IO v4 with its Redis adapter.
const CLUSTER_TARGETS = [
  { name: 'deliveries per second', key: 'dps', fmt: fmt.int, target: '≥ 3× Socket.IO', met: (w, s) => w / s >= 3 },
  { name: 'publish-to-delivery p50 (ms)', key: 'p50', fmt: (v) => (v == null ? 'n/a' : nf(v, 1)) },
  { name: 'publish-to-delivery p99 (ms)', key: 'p99', fmt: (v) => (v == null ? 'n/a' : nf(v, 1)),
    target: '≤ 0.5× Socket.IO', met: (w, s) => w / s <= 0.5 },
  { name: 'publications all answered after (s)', key: 'pub_s', fmt: fmt.cpu },
  { name: 'delivering took (s)', key: 'seconds', fmt: fmt.cpu },
  { name: 'server CPU, both nodes (s)', key: 'cpu_s', fmt: fmt.cpu },
  { name: 'subscriber processes\' CPU (s)', key: 'sub_cpu_s', fmt: fmt.cpu },
];

function clusterTable(ctx) {
  const head = ['', 'wsrouterd', 'Socket.IO', 'wsr/sio', 'target', 'met'];
  const S = ctx.cluster.summary;
  const rows = CLUSTER_TARGETS.map((t) => {
    const w = S.wsrouter[t.key], x = S.socketio[t.key];
    const ok = !t.met ? '' : w == null || x == null ? 'n/a' : t.met(w, x) ? 'met' : 'NOT met';
    return [t.name, t.fmt(w), t.fmt(x), fmtRatio(ratio(w, x)), t.target ?? '', ok];
  });
  return { head, rows };
}

function clusterRounds(ctx) {
  const head = ['server', ...Array.from({ length: ctx.o.rounds }, (_, i) => `round ${i + 1}`)];
  const rows = ctx.cluster.servers.map((sv) => [sv.title, ...ctx.cluster.runs[sv.id].map((m) => (!m.figures
    ? 'failed' : `${fmt.int(m.figures.dps)}/s, p99 ${nf(m.figures.p99, 0)} ms`))]);
  return { head, rows };
}

function clusterProblems(ctx) {
  const out = [];
  if (!ctx.cluster) return out;
  for (const sv of ctx.cluster.servers)
    ctx.cluster.runs[sv.id].forEach((m, i) => {
      const where = `cluster, ${sv.title}, round ${i + 1}`;
      if (m.failed) out.push(`${where}: run failed: ${m.failed}`);
      for (const e of m.errorList ?? []) out.push(`${where}: ${e}`);
    });
  return out;
}

// The cluster's section, between markers: a run without the cluster keeps the
// last one, a run of the cluster alone (--only cluster) replaces only it.
export function clusterSection(ctx) {
  const p = clusterProblems(ctx), m = ctx.machine;
  return `<!-- cluster: written by \`make bench\` (tests/bench/cluster.mjs); kept by runs without it -->
${clusterMarkdown(ctx)}
- Measured ${m.date} by \`${ctx.o.command}\`, commit ${m.commit}${m.dirty ? ' (with uncommitted changes)' : ''};
  redis-server ${m.redisServer}, Node ${m.node}, ws ${m.ws}.
${p.length ? p.map((x) => `- Problem: ${x}`).join('\n') : '- No problems: every subscriber got every publication once.'}
<!-- /cluster -->
`;
}

function clusterMarkdown(ctx) {
  if (!ctx.cluster) return '';
  const c = ctx.cluster, t = clusterTable(ctx), r = clusterRounds(ctx);
  return `## Cluster: wsrouterd and Socket.IO on Redis (issue 14)

${c.title}: on each side two server nodes share one redis-server (the same
redis-server for both sides, started by \`tests/bench/cluster.mjs\` on a free port):
wsrouterd with \`engine=redis://…\`, and Socket.IO ${ctx.machine.socketio} with
@socket.io/redis-adapter ${ctx.machine.redisAdapter} over node-redis ${ctx.machine.redis}
(\`tests/bench/socketio-node.mjs\`, subscribers joined to a room). 1000 subscribers
per node, held by ${c.workers} subscriber processes (\`tests/bench/cluster-subs.c\`, the
same for both sides: one epoll loop, no compression, the publisher's timestamp read
from each delivery; each process on one node; in C so that the subscribers, which
took most of the 2 CPUs as Node processes, leave them to the servers measured). One publisher on node A sends ${c.pubs}
publications, 16 in flight (until the node answers: wsrouterd's reply to
\`POST /_/publish\`, Socket.IO's ack), so ${fmt.int(c.pubs * 2000)} deliveries a
side. Deliveries per second: all deliveries over the time from the first
publication to the last delivery. Latency: from the publisher's timestamp to
the subscriber's receipt, every delivery. Any lost or doubled delivery is a
problem below. Medians of ${ctx.o.rounds} rounds, the side that goes first
alternating; nothing is pinned to a CPU (5 to 9 processes on ${ctx.machine.nproc} CPUs).

${mdTable(t.head, t.rows)}
${mdTable(r.head, r.rows)}`;
}

/* --- where the time goes ------------------------------------------------------------- */

// The profile's stages as a table, and the CPU split of the throughput runs.
function timeGoes(ctx) {
  const pr = ctx.profile;
  const out = { rows: null, note: null, split: null };
  if (!pr || pr.skipped || pr.failed) {
    out.note = `Not profiled in this run: ${pr ? pr.skipped ?? pr.failed : 'no profile'}.`;
  } else {
    const pct = (n) => `${((100 * n) / pr.per_request).toFixed(0)}%`;
    out.rows = pr.stages.map(([what, n]) => [what, fmt.int(n), pct(n)]);
    out.rows.push(['**whole request**', fmt.int(pr.per_request), '100%']);
    out.alloc = `${fmt.int(pr.malloc_free)} (${pct(pr.malloc_free)})`;
  }
  const t = ctx.summary.tput?.wsrouter;
  if (t && t.cpu_us != null && t.sys_share != null)
    out.split = `${t.cpu_us.toFixed(2)} µs of server CPU per request, ${(100 * t.sys_share).toFixed(0)}% ` +
      `of it in the kernel (sockets: reads, writes, epoll) and ${(100 - 100 * t.sys_share).toFixed(0)}% ` +
      'in user space';
  return out;
}

// Issue 19's compression row: instructions per request with compression on,
// small messages, against the same profile with it off.
function compressionMarkdown(pr) {
  if (!pr || !pr.per_request || !pr.compressed) return '';
  const row = (what, c, target) => {
    if (!c || !c.per_request) return [what, c ? (c.skipped ?? c.failed ?? '?') : 'not run', '', target ? '≤ 2×' : '', ''];
    const r = c.per_request / pr.per_request;
    return [what, fmt.int(c.per_request), `${r.toFixed(2)}×`, target ? '≤ 2×' : '', target ? (r <= 2 ? 'met' : 'NOT met') : ''];
  };
  return `
**Compression on** (\`compression\` true, the same load offering permessage-deflate;
messages of about 40 bytes, replies under \`compression_min_bytes\`), instructions per
request against the ${fmt.int(pr.per_request)} above:

${mdTable(['client', 'instructions per request', '÷ off', 'target', 'met'], [
    row('ws defaults: keeps its context, compresses every message', pr.compressed, true),
    row('client_no_context_takeover offered: messages under 1 KiB sent plain', pr.compressed_nct, false),
  ])}
With the client keeping its context, each compressed request is inflated twice: by
libwebsockets and, just before, by the guard's twin of its inflater, which predicts lws
4.1.6's abort (src/core/deflate.c; until 2026-12-04 the guard inflated a copy of lws's
inflater, and \`inflateCopy\` copied its 32 KiB window every message: 82 200 instructions,
8.9× off).
`;
}

function timeGoesMarkdown(ctx) {
  const tg = timeGoes(ctx);
  let s = `## Where the time goes

Instructions per request for \`{"cmd":"add","args":{"x":X,"y":2},"id":N}\`, under callgrind
(\`tests/bench/profile\`, run by the benchmark: wsrouterd serves 20 000 requests from 50
connections × 16 in flight, one loop, no store; a run that only starts and stops is
subtracted). Instruction counts hardly move with the machine's noise, so two builds compare
well here even when the rounds above are noisy.

`;
  if (tg.rows) {
    s += mdTable(['stage', 'instructions per request', 'share'], tg.rows);
    s += `\nmalloc and free, across those stages: ${tg.alloc} of the instructions.\n`;
  } else {
    s += `${tg.note}\n`;
  }
  if (tg.split) s += `\nAt 100 × 16 (medians of the rounds): ${tg.split}.\n`;
  s += compressionMarkdown(ctx.profile);
  s += `
What got it here, measured the same way on 2026-11-21:

- **The parser.** jansson's \`json_loadb\` reads a character at a time through a stream
  callback and checked the whole input for UTF-8 first; with our separate nesting pre-scan it
  was 12 540 of the 22 343 instructions of a request (56%). \`src/jsonparse.c\` scans runs of
  plain bytes at once, builds strings without a copy when nothing is escaped, checks UTF-8 only
  above 0x7F, enforces the nesting limit and refuses duplicate keys as it goes, and builds the
  same jansson values: about 3 960 instructions. The 64 KiB echo went from a third of Node's
  rate to even with it.
- **Batched writes.** Replies queued on a connection are framed by us and written together in
  one \`write\` per WRITEABLE callback; before, the kernel took 57% of the CPU at 100 × 16.
- **Memory.** A 256-byte receive buffer per connection, and queues allocated on first use
  (the idle scenario above gives the figure).

And in round two (issue 19), measured the same way on 2026-12-04:

- **The message read flat.** \`wsr__json_parse_message\` puts the members of the message and
  of its \`args\` in arrays, method, url, cmd and token kept as text, and builds jansson
  objects only when a handler asks: the request side went from 15 411 to 10 616 instructions
  (malloc and free from 2 296 to 616).
- **The compression guard's twin.** The guard against lws 4.1.6's inflater abort predicted it
  on an \`inflateCopy\` of lws's inflater, 32 KiB copied for every compressed message; a twin
  inflater kept in step with lws's needs no copy: 82 200 instructions per small compressed
  request to about 13 000.
- **Replies' strings scanned 8 bytes at a time** for the bytes that need escaping: the 64 KiB
  echo from 243 to 184 µs of CPU.
- **16 KiB reads.** libwebsockets reads a WebSocket \`rx_buffer_size\` bytes at a time and
  gives each connection a receive buffer that big; its server parser writes only control
  frames' payload there, so the buffer is allocated at 145 bytes (\`src/server/lwsalloc.c\`)
  and reads are 16 KiB: 16 replies a send at 100 × 16 instead of 4.6, and the 64 KiB echo
  in 4 reads instead of 256.

What is left, and what each unmet target of issue 19 would take (measured):
\`tests/bench/README.md\`, "What is left". In short: libwebsockets is 4 100 of the
instructions; ours would have to halve, which takes request values in a per-loop arena instead
of jansson's; its per-connection state is most of an idle connection's memory; at one request
in flight the kernel's read, write and epoll wait bound the ratio to minimal-lws; and over
wss:// OpenSSL and the kernel are 81% of the CPU.
`;
  return s;
}

/* --- the reports ----------------------------------------------------------------------- */

export function terminalReport(ctx) {
  const h = headline(ctx), r = ratios(ctx), f = figuresTables(ctx);
  let s = '';
  if (h.rows.length) s += 'Headline (medians; the targets of issue 8 are about wsrouterd)\n' + textTable(h.head, h.rows);
  const r2 = roundTwo(ctx);
  s += '\nIssue 19 (performance, round two)\n' + textTable(r2.head, r2.rows);
  const tr = transport(ctx);
  if (tr.rows.length)
    s += '\nTransport (issue 19: system calls counted by perf over the measured interval)\n' +
         textTable(tr.head, tr.rows);
  if (r.rows.length)
    s += '\nRatios wsrouterd / baseline (req/s: higher is better; the rest: lower)\n' + textTable(r.head, r.rows);
  if (f.load.rows.length)
    s += '\nAll figures (medians of the rounds)\n' + textTable(f.load.head, f.load.rows, 2);
  if (f.idle.rows.length) s += '\n' + textTable(f.idle.head, f.idle.rows, 2);
  s += rawTerminal(ctx.raw, textTable);
  if (ctx.cluster) {
    const c = clusterTable(ctx);
    s += `\nCluster (issue 14): ${ctx.cluster.title}, ${ctx.cluster.pubs} publications (medians)\n` +
         textTable(c.head, c.rows);
  }
  const tg = timeGoes(ctx);
  if (tg.rows) {
    s += '\nWhere the time goes (instructions per request, callgrind)\n' +
         textTable(['stage', 'instructions', 'share'], tg.rows.map((r) => r.map((c) => c.replace(/\*\*/g, ''))));
  } else {
    s += `\n${tg.note}\n`;
  }
  if (tg.split) s += `At 100 × 16: ${tg.split}.\n`;
  const p = problems(ctx);
  s += `\n${noise(ctx)}\n`;
  s += p.length ? `\nProblems:\n${p.map((x) => `  - ${x}`).join('\n')}\n`
    : '\nNo problems: every reply of every run was checked and right; no server complained.\n';
  return s;
}

export function markdownReport(ctx) {
  const { o, machine: m } = ctx;
  const h = headline(ctx), r = ratios(ctx), f = figuresTables(ctx), rt = roundsTable(ctx);
  const tr = transport(ctx);
  const r2 = roundTwo(ctx), cs = cpuSplit(ctx);
  const p = problems(ctx);
  const wsrCmd = 'wsrouterd --port 0 --io-threads 1 --modules examples --store "" --log-level err ' +
    '--set rate_limit_connection=0';
  return `# Benchmarks

wsrouterd against two baselines on the same load, from the benchmark of GitHub
issue 8: **minimal-lws** (\`tests/bench/minimal-lws.c\`, libwebsockets and
jansson with no routing: the ceiling of our own stack) and **node-ws**
(\`tests/bench/node-ws.mjs\`, Node's \`ws\`: what many users would pick instead).
This file is written by the benchmark; run it again rather than editing it.

- Date: ${m.date}; the whole run took ${ctx.seconds.toFixed(0)} s.
- Command: \`${o.command}\` (from the repository root).
- Machine: ${m.nproc} CPUs (\`nproc\`), ${m.cpu}, ${m.kernel}. A shared virtual
  machine: expect several per cent of noise between rounds (see Rounds).
- Software: libwebsockets ${m.lws} (Debian), jansson ${m.jansson}, ${m.openssl},
  Node ${m.node}, ws ${m.ws}${ctx.cluster ? `; cluster: redis-server ${m.redisServer}, socket.io ${m.socketio}, @socket.io/redis-adapter ${m.redisAdapter}, redis ${m.redis}` : ''}.
- wsrouter: commit ${m.commit}${m.dirty ? ' plus uncommitted changes in src/, include/ or routes/' : ''}, \`${m.wsrouterd}\`.

## Headline

${mdTable(h.head, h.rows)}
## Issue 19: performance, round two

Each target of issue 19, from this run: the instructions from the profile ("Where the time
goes" below, 50 connections × 16 in flight under callgrind; a count per request, which the
number of connections hardly moves), the ratios from the scenarios below, measured side by side.
What stands in the way of the ones not met: \`tests/bench/README.md\`, "What is left".

${mdTable(r2.head, r2.rows)}
Server CPU per request (medians of the rounds), split by \`/proc/PID/stat\` into kernel and user
time. Both servers make the same system calls a request at one request in flight (a read, a
write, an epoll wait), so the kernel's part bounds the ratio: *ceiling* is minimal-lws's CPU per
request over wsrouterd's kernel time alone, the ratio wsrouterd would reach if its own work
took nothing.

${cs.rows.length ? mdTable(cs.head, cs.rows) : 'Not measured in this run.\n'}
${tr.rows.length ? `## Transport

The targets of issue 19 at 100 connections × 16 in flight: the server's system calls
(\`perf stat\` on its tracepoints \`raw_syscalls:sys_enter\` and the write-type
\`syscalls:sys_enter_*\`: sendto, sendmsg, sendmmsg, write, writev) over the measured
interval, as rates divided by the load's request rate (medians of the rounds).

${mdTable(tr.head, tr.rows)}
` : ''}## Ratios wsrouterd / baseline

Throughput: higher is better; p99, CPU per request and memory: lower is better.

${mdTable(r.head, r.rows)}
## All figures

Medians of ${o.rounds} rounds. *spread* is (max − min) / median of the rounds'
throughput. Latencies are of every request answered in the measured interval.
*fairness* is Jain's index of the replies each connection got while measuring
(1: all alike), and in brackets the fewest a connection got over the most.
*others CPUs* is the work neither the server nor the load generator did while
measuring (from \`/proc/stat\`, steal included; of 2 CPUs): other tenants and
the kernel's softirq work. A high figure marks a noisy round.

${f.load.rows.length ? mdTable(f.load.head, f.load.rows, 2) : ''}
${f.idle.rows.length ? mdTable(f.idle.head, f.idle.rows, 2) : ''}
## Rounds

${noise(ctx)} Rounds with ${NOISY} CPUs or more of other work show how much.

${mdTable(rt.head, rt.rows, 2)}
${rawMarkdown(ctx.raw, mdTable, o)}
${ctx.cluster ? clusterSection(ctx) : '<!-- cluster: none --><!-- /cluster -->\n'}
${timeGoesMarkdown(ctx)}
## Problems

${p.length ? p.map((x) => `- ${x}`).join('\n') : '- None: every reply of every run was checked and right, and no server crashed or complained.'}

## Method

- Every scenario runs ${o.rounds} rounds; each round measures every server once, on a
  freshly started server, in an order that rotates from round to round. The figures are
  the medians of the rounds.
- The server runs on CPU 0 (\`taskset -c 0\`), the load generator on CPU 1 (\`taskset -c 1\`).
- wsrouterd runs as \`${wsrCmd}\` (one event loop, no store, no per-connection rate
  limit: one client with one request in flight passes the default 5000 requests/s), with
  \`--tls-port 0 --tls-cert … --tls-key …\` for wss:// (certificates from \`certs/mkcerts.sh\`).
  The baselines bind 127.0.0.1 on a free port the same way.
- The load generator, \`tests/bench/wsr-load.c\` (with \`wsr-load-ws.c\` and
  \`wsr-load-check.c\`; epoll and a hand-written WebSocket client, OpenSSL for wss://),
  opens all connections first, then keeps P requests in flight on each for ${o.warmup} s
  of warm-up and ${o.seconds} s measured. The request is
  \`{"cmd":"add","args":{"x":X,"y":2},"id":N}\` (or
  \`{"method":"POST","url":"/echo","data":"<65 536 letters>","id":N}\`); every reply is
  checked: its id must be in flight on that connection, its status 200, its data X + 2
  (or the very string sent). A failure is an error, counted and never retried.
- Server CPU per request: utime + stime from \`/proc/PID/stat\` over the measured interval,
  divided by the replies received in it. RSS: \`VmRSS\` from \`/proc/PID/status\`. Memory per
  idle connection: RSS after opening ${ctx.scenarios.find((s) => s.idle) ? '10 000' : 'N'}
  connections and holding them 0.5 s, minus RSS before, divided by their number; then
  every connection gets one request, to prove it was alive.
- Scenarios: ${ctx.scenarios.map((s) => s.title).join('; ')}.
- Where a request's time goes (instructions per stage under callgrind, the user/kernel
  split, what is left to gain): \`tests/bench/README.md\`, measured again with
  \`tests/bench/profile\`.
`;
}
