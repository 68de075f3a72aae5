// SPDX-License-Identifier: MIT
// `make soak` (issue 15): a bounded mixed-load soak of the real wsrouterd.
// It starts build/wsrouterd (or $WSRD) on free loopback ports (WebSocket and
// raw TCP) with a store in a temporary directory, runs for --seconds (600 by
// default; SOAK_SECONDS in the Makefile) a mixed load:
//   - WebSocket requests: connections with several `add` requests in flight,
//     every answer checked;
//   - pub/sub: subscribers of one topic and a publisher, every publication
//     counted at each subscriber;
//   - raw TCP: NDJSON and RESP clients pipelining pings;
//   - reconnect churn: connections opened, used once and closed, one after
//     the other;
//   - hostile clients: bad JSON, bad raw framing, oversized messages, a
//     client that floods and never reads (closed 1008 at max_outbound),
//     connections that open and never send;
// and samples wsrouterd's resident memory and open descriptors (from /proc)
// every second. It prints the figures at the start (after the warm-up),
// the peak and the end (after the load stopped and the hostile connections
// are gone), writes them into BENCHMARKS.md's soak section (kept by
// `make bench`), and exits 1 when a well-behaved client got a wrong answer
// or was closed, or when the server did not exit 0 on SIGTERM.
//
//   node tests/bench/soak.mjs [--seconds S] [--out FILE|-]
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const o = { seconds: 600, out: 'BENCHMARKS.md' };
for (let i = 2; i < process.argv.length; i += 2) {
  const k = process.argv[i].replace(/^--/, '');
  if (!(k in o) || process.argv[i + 1] === undefined) {
    console.error(`usage: soak.mjs [--seconds S] [--out FILE|-] (unknown or incomplete: ${process.argv[i]})`);
    process.exit(2);
  }
  o[k] = k === 'seconds' ? Number(process.argv[i + 1]) : process.argv[i + 1];
}
if (!(o.seconds >= 10 && o.seconds <= 86400)) {
  console.error('soak: --seconds must be 10 to 86400');
  process.exit(2);
}
const WSRD = process.env.WSRD ?? path.join(ROOT, 'build/wsrouterd');
const say = (s) => process.stdout.write(`soak: ${s}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- the server ----
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsr-soak-'));
const MAX_OUTBOUND = 256 * 1024;
const srv = spawn(WSRD, ['--port', '0', '--raw-port', '0', '--modules', 'all', '--store',
  path.join(dir, 'wsrouter.db'), '--set', `max_outbound=${MAX_OUTBOUND}`, '--set', 'max_message=64K',
  '--set', 'log_level=warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
let stdout = '';
let stderr = '';
srv.stdout.on('data', (d) => { stdout += d; });
srv.stderr.on('data', (d) => { stderr = (stderr + d).slice(-20000); });
const exited = new Promise((resolve) => srv.on('exit', (code, signal) => resolve({ code, signal })));
let stopping = false;
process.on('exit', () => { if (srv.exitCode === null) srv.kill('SIGKILL'); });

async function ports() {
  const deadline = Date.now() + 10000;
  for (;;) {
    const ws = /listening on ws:\/\/\S+?:(\d+)\//.exec(stdout);
    const raw = /listening on tcp:\/\/\S+?:(\d+)\//.exec(stdout);
    if (ws && raw) return { ws: Number(ws[1]), raw: Number(raw[1]) };
    if (srv.exitCode !== null || Date.now() > deadline)
      throw new Error(`wsrouterd did not listen:\n${stderr}`);
    await sleep(20);
  }
}

// ---- what is measured ----
function sample() {
  const status = fs.readFileSync(`/proc/${srv.pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]);
  const fds = fs.readdirSync(`/proc/${srv.pid}/fd`).length;
  return { rss_kib: rss, fds };
}

const counts = {
  ws_requests: 0, publications_received: 0, publications_sent: 0, raw_ndjson: 0, raw_resp: 0,
  reconnects: 0, hostile: 0, flooder_closed_1008: 0,
};
const failures = [];
const fail = (what) => { if (failures.length < 20) failures.push(what); };

// ---- well-behaved clients ----
function open(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const t = setTimeout(() => { ws.terminate(); reject(new Error('connect timed out')); }, 10000);
    ws.once('open', () => { clearTimeout(t); resolve(ws); });
    ws.once('error', (e) => { clearTimeout(t); reject(e); });
  });
}

/** A connection keeping `depth` add requests in flight until `until`. */
async function requester(url, depth, until) {
  const ws = await open(url);
  let next = 0;
  let inflight = 0;
  await new Promise((resolve) => {
    const send = () => {
      const i = next++;
      inflight++;
      ws.send(JSON.stringify({ cmd: 'add', args: { x: i, y: 1 }, id: i }));
    };
    ws.on('message', (d) => {
      const m = JSON.parse(d);
      if (m.status !== 200 || m.data !== m.id + 1) fail(`add answered ${String(d).slice(0, 120)}`);
      counts.ws_requests++;
      inflight--;
      if (Date.now() < until) send();
      else if (inflight === 0) resolve();
    });
    ws.on('close', (code) => {
      if (Date.now() < until || inflight > 0) fail(`a requesting connection closed ${code}`);
      resolve();
    });
    for (let k = 0; k < depth; k++) send();
  });
  ws.close();
}

/** Subscribers of topic "soak" and a publisher, 20 publications a second. */
async function pubsub(url, nsubs, until) {
  const subs = await Promise.all(Array.from({ length: nsubs }, () => open(url)));
  await Promise.all(subs.map((s) => new Promise((resolve) => {
    s.once('message', resolve);
    s.send(JSON.stringify({ method: 'POST', url: '/_/subscribe', args: { topic: 'soak' }, id: 's' }));
  })));
  const got = subs.map(() => 0);
  subs.forEach((s, i) => s.on('message', (d) => {
    const m = JSON.parse(d);
    if (m.topic === 'soak') {
      got[i]++;
      counts.publications_received++;
    }
  }));
  const pub = await open(url);
  pub.on('message', (d) => {
    const m = JSON.parse(d);
    if (m.status !== 200) fail(`publish answered ${String(d).slice(0, 120)}`);
  });
  while (Date.now() < until) {
    pub.send(JSON.stringify({ method: 'POST', url: '/_/publish', args: { topic: 'soak' },
      data: { n: counts.publications_sent }, id: counts.publications_sent }));
    counts.publications_sent++;
    await sleep(50);
  }
  await sleep(1000);
  got.forEach((n, i) => {
    if (n !== counts.publications_sent) fail(`subscriber ${i} got ${n} of ${counts.publications_sent} publications`);
  });
  for (const s of [...subs, pub]) s.close();
}

/** A raw TCP client: `line` answered by a line starting with `want`, 8 in flight. */
function rawClient(port, line, want, key, until) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = '';
    let inflight = 0;
    const send = () => { inflight++; sock.write(line); };
    sock.on('connect', () => { for (let k = 0; k < 8; k++) send(); });
    sock.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const got = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!got.startsWith(want)) fail(`raw ${key} answered ${got.slice(0, 120)}`);
        counts[key]++;
        inflight--;
        if (Date.now() < until) send();
        else if (inflight === 0) sock.end();
      }
    });
    sock.on('error', (e) => fail(`raw ${key}: ${e.message}`));
    sock.on('close', () => {
      if (Date.now() < until) fail(`raw ${key} connection closed early`);
      resolve();
    });
  });
}

/** Connections opened, used for one ping and closed, one after the other. */
async function churn(url, until) {
  while (Date.now() < until) {
    const ws = await open(url);
    await new Promise((resolve) => {
      ws.once('message', (d) => {
        if (JSON.parse(d).data !== 'PONG') fail(`churn ping answered ${String(d).slice(0, 120)}`);
        resolve();
      });
      ws.send('{"cmd":"ping","id":1}');
    });
    await new Promise((resolve) => { ws.once('close', resolve); ws.close(); });
    counts.reconnects++;
  }
}

// ---- hostile clients ----
const hostileKinds = [
  // Not JSON, then a message over max_message (closed 1009).
  async (url) => {
    const ws = await open(url);
    ws.send('{"cmd": nope');
    ws.send('x'.repeat(70 * 1024));
    await new Promise((resolve) => { ws.on('close', resolve); setTimeout(resolve, 5000); });
    ws.terminate();
  },
  // Raw TCP garbage in each framing: an error in the framing, then the close.
  async (url, rawPort) => {
    for (const bytes of ['*2\r\n$999999999\r\n', '{"cmd":', '\u0000\u0000\u0000\u0005\u0092\u0001', 'echo "\u0000\n']) {
      await new Promise((resolve) => {
        const s = net.connect(rawPort, '127.0.0.1', () => s.end(bytes));
        s.on('data', () => {});
        s.on('error', () => {});
        s.on('close', resolve);
        setTimeout(() => { s.destroy(); resolve(); }, 5000);
      });
    }
  },
  // Floods requests for big replies and never reads: closed 1008 past max_outbound.
  async (url) => {
    const ws = await open(url);
    ws._socket.pause();
    for (let i = 0; i < 400; i++) ws.send(JSON.stringify({ cmd: 'big', args: { bytes: 60000 }, id: i }));
    // The server's 1008 is counted in its stats (read at the end); a paused
    // socket may not see the close, so the client gives up after a while.
    await sleep(5000);
    ws.terminate();
  },
  // Opens and never sends: twenty of them, dropped after a while.
  async (url, rawPort) => {
    const socks = Array.from({ length: 20 }, () => {
      const s = net.connect(rawPort, '127.0.0.1');
      s.on('error', () => {});
      return s;
    });
    await sleep(3000);
    for (const s of socks) s.destroy();
  },
];

async function hostile(url, rawPort, until) {
  for (let k = 0; Date.now() < until; k++) {
    await hostileKinds[k % hostileKinds.length](url, rawPort);
    counts.hostile++;
    await sleep(200);
  }
}

// ---- the run ----
const started = Date.now();
const { ws: wsPort, raw: rawPort } = await ports();
const url = `ws://127.0.0.1:${wsPort}/`;
say(`wsrouterd pid ${srv.pid}, ws ${wsPort}, raw ${rawPort}, ${o.seconds} s`);
const samples = [];
const sampler = setInterval(() => { if (!stopping) samples.push({ t: (Date.now() - started) / 1000, ...sample() }); }, 1000);
// A short warm-up, so that "start" is the server with its pools and caches up.
await Promise.all([requester(url, 4, Date.now() + 2000), churn(url, Date.now() + 2000)]);
await sleep(500);
const start = sample();
say(`start: RSS ${start.rss_kib} KiB, ${start.fds} descriptors`);
const until = Date.now() + o.seconds * 1000;
const load = [
  ...Array.from({ length: 16 }, () => requester(url, 8, until)),
  pubsub(url, 8, until),
  rawClient(rawPort, '{"cmd":"ping"}\n', '{', 'raw_ndjson', until),
  rawClient(rawPort, '*1\r\n$4\r\nPING\r\n', '+PONG', 'raw_resp', until),
  churn(url, until),
  churn(url, until),
  hostile(url, rawPort, until),
];
const progress = setInterval(() => {
  const s = sample();
  say(`${((Date.now() - started) / 1000).toFixed(0)} s: RSS ${s.rss_kib} KiB, ${s.fds} descriptors, ` +
    `${counts.ws_requests} requests, ${counts.reconnects} reconnects, ${counts.hostile} hostile`);
}, 30000);
const results = await Promise.allSettled(load);
clearInterval(progress);
for (const r of results) if (r.status === 'rejected') fail(`a load task failed: ${r.reason?.message ?? r.reason}`);
// The end: load stopped, and the closed connections' resources given back.
await sleep(3000);
const end = sample();
stopping = true;
clearInterval(sampler);
// The server's own count of what it closed, before it stops.
const stats = await (async () => {
  try {
    const ws = await open(url);
    const m = await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('stats timed out')), 10000);
      ws.once('message', (d) => { clearTimeout(t); resolve(JSON.parse(d)); });
      ws.send('{"cmd":"stats","id":"s"}');
    });
    ws.close();
    return m.data;
  } catch (e) {
    fail(`stats: ${e.message}`);
    return {};
  }
})();
counts.flooder_closed_1008 = stats.closes?.['1008'] ?? 0;
const peak = samples.reduce((p, s) => ({ rss_kib: Math.max(p.rss_kib, s.rss_kib), fds: Math.max(p.fds, s.fds) }), start);
srv.kill('SIGTERM');
const exit = await Promise.race([exited, sleep(20000).then(() => ({ code: 'timeout' }))]);
fs.rmSync(dir, { recursive: true, force: true });
if (exit.code !== 0) fail(`wsrouterd exited ${exit.code ?? exit.signal} on SIGTERM:\n${stderr.slice(-2000)}`);
if (counts.flooder_closed_1008 === 0) fail('no flooding client was ever closed 1008');

say(`end:   RSS ${end.rss_kib} KiB, ${end.fds} descriptors; peak RSS ${peak.rss_kib} KiB, ${peak.fds} descriptors`);
say(`counts: ${JSON.stringify(counts)}`);
for (const f of failures) say(`FAILED: ${f}`);

const rev = (() => {
  try {
    return execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
})();
const section = [
  '<!-- soak: written by `make soak` (tests/bench/soak.mjs); `make bench` keeps it -->',
  '## Soak',
  '',
  `- Date: ${new Date().toISOString().replace('T', ' ').slice(0, 19)} UTC; ${o.seconds} s of load` +
    ` (\`make soak SOAK_SECONDS=${o.seconds}\`; the default is 600), ${os.cpus().length} CPUs, loaded by other work.`,
  `- Load: 16 WebSocket connections × 8 \`add\` in flight, 8 subscribers and a publisher (20/s),` +
    ' raw NDJSON and RESP clients × 8 in flight, two reconnecting clients (open, ping, close),' +
    ' and hostile clients in turn (bad JSON and a message over max_message, bad raw framing,' +
    ` a flooder that never reads with max_outbound ${MAX_OUTBOUND / 1024} KiB, 20 silent raw connections).`,
  `- Served: ${counts.ws_requests} WebSocket requests, ${counts.publications_received} publications received` +
    ` (${counts.publications_sent} sent), ${counts.raw_ndjson} NDJSON and ${counts.raw_resp} RESP pings,` +
    ` ${counts.reconnects} reconnections, ${counts.hostile} hostile clients` +
    ` (${counts.flooder_closed_1008} closed 1008 by the server); ${failures.length ? `${failures.length} failure(s): ${failures.join('; ')}` : 'no failure'}.`,
  '',
  '| wsrouterd | RSS (KiB) | open descriptors |',
  '| --- | ---: | ---: |',
  `| start (after a 2 s warm-up) | ${start.rss_kib} | ${start.fds} |`,
  `| peak | ${peak.rss_kib} | ${peak.fds} |`,
  `| end (load stopped, 3 s later) | ${end.rss_kib} | ${end.fds} |`,
  '',
  `wsrouter: commit ${rev}, \`${path.relative(ROOT, WSRD)}\`.`,
  '<!-- /soak -->',
  '',
].join('\n');
if (o.out !== '-') {
  const file = path.resolve(ROOT, o.out);
  const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  const re = /<!-- soak:[\s\S]*?<!-- \/soak -->\n?/;
  fs.writeFileSync(file, re.test(old) ? old.replace(re, section) : `${old.trimEnd()}\n\n${section}`);
  say(`wrote the soak section of ${o.out}`);
}
process.exit(failures.length ? 1 : 0);
