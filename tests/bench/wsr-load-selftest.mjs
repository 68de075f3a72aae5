// SPDX-License-Identifier: MIT
/*
 * The load generator's own test: a benchmark whose checks let a wrong reply
 * through measures nothing. This starts a `ws` server on 127.0.0.1 that lies
 * on purpose (the URL path picks how: wrong data, wrong ids, wrong status,
 * garbage, binary frames, a close) or tells the truth in awkward ways
 * (fragmented replies, pings, out-of-order replies), runs build-bench/wsr-load
 * against each, and checks that it counted exactly the faults it was served
 * and nothing else. The same goes for tcp:// (wsrouterd's raw port: NDJSON
 * lines), served by a `net` server that lies the same ways, or splits its
 * lines, ends them with \r\n, or closes. run-bench runs it before every
 * benchmark; it takes a few seconds and exits non-zero on the first miscount.
 *
 *   node tests/bench/wsr-load-selftest.mjs BUILD_DIR
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { WebSocketServer } from 'ws';

const EVERY = 7; // the faulty servers spoil every 7th reply

// What each path serves, and which counters wsr-load must end with (the rest: 0).
const CASES = [
  { path: '/ok', expect: {} },
  { path: '/fragments', expect: {} },
  { path: '/reorder', expect: {}, pipeline: 4 },
  { path: '/reorder', expect: {}, pipeline: 4, connections: 50 },
  { path: '/echo', expect: {}, echo: true },
  { path: '/bad-result', expect: { bad_result: 'spoilt' } },
  { path: '/bad-echo', expect: { bad_result: 'spoilt' }, echo: true },
  { path: '/bad-status', expect: { bad_status: 'spoilt' } },
  { path: '/bad-id', expect: { bad_id: 'spoilt', lost: 'spoilt' } },
  { path: '/garbage', expect: { bad_json: 'spoilt', lost: 'spoilt' } },
  { path: '/binary', expect: { bad_frame: 1, closed: 1, lost: 'any' }, connections: 1 },
  { path: '/close', expect: { closed: 1, lost: 'any' }, connections: 1 },
];

// tcp://: what a line server serves (the same lies as above, in NDJSON lines).
const RAW_CASES = [
  { path: '/ok', expect: {} },
  { path: '/crlf', expect: {} },
  { path: '/split', expect: {} },
  { path: '/reorder', expect: {}, pipeline: 4, connections: 20 },
  { path: '/echo', expect: {}, echo: true },
  { path: '/bad-result', expect: { bad_result: 'spoilt' } },
  { path: '/bad-status', expect: { bad_status: 'spoilt' } },
  { path: '/bad-id', expect: { bad_id: 'spoilt', lost: 'spoilt' } },
  { path: '/garbage', expect: { bad_json: 'spoilt', lost: 'spoilt' } },
  { path: '/close', expect: { closed: 1, lost: 'any' }, connections: 1 },
];

function reply(req, text) {
  return JSON.stringify({ status: 200, data: req.url === '/echo' ? req.data : req.args.x + req.args.y,
                          id: req.id, event_name: null, ...text });
}

// Serves one message on a connection whose upgrade asked for `p`; st counts
// over every connection of that path, conn is this connection's own state.
function serve(ws, st, conn, p, raw) {
  const req = JSON.parse(raw);
  const spoil = ++st.n % EVERY === 0;
  if (spoil) st.spoilt++;
  switch (p) {
  case '/fragments': {
    const t = reply(req);
    ws.ping();
    ws.send(t.slice(0, 5), { fin: false });
    ws.send(t.slice(5, 9), { fin: false });
    return ws.send(t.slice(9), { fin: true });
  }
  case '/reorder': // answer in pairs, the second request first
    if (conn.held) {
      ws.send(reply(req));
      ws.send(reply(conn.held));
      conn.held = null;
    } else {
      conn.held = req;
      setTimeout(() => { // the last request of a run has no partner
        if (conn.held === req) {
          conn.held = null;
          ws.send(reply(req));
        }
      }, 20);
    }
    return undefined;
  case '/bad-result':
    return ws.send(spoil ? reply(req, { data: req.args.x + req.args.y + 1 }) : reply(req));
  case '/bad-echo':
    return ws.send(spoil ? reply(req, { data: req.data.slice(1) + 'a' }) : reply(req));
  case '/bad-status':
    return ws.send(spoil ? reply(req, { status: 500 }) : reply(req));
  case '/bad-id':
    return ws.send(spoil ? reply(req, { id: req.id + 1e9 }) : reply(req));
  case '/garbage':
    return ws.send(spoil ? reply(req).slice(0, -1) : reply(req));
  case '/binary':
    return ws.send(Buffer.from(reply(req)), { binary: st.n === 20 });
  case '/close':
    return st.n === 20 ? ws.close(1000) : ws.send(reply(req));
  default:
    return ws.send(reply(req));
  }
}

// A line server for one case of RAW_CASES: `ws`-like send() and close() over a socket.
function rawServer(p, stats) {
  const st = (stats[p] ??= { n: 0, spoilt: 0 });
  return net.createServer((sock) => {
    let buf = '', chain = Promise.resolve();
    const conn = {};
    const ws = {
      send: (t, opt) => {
        if (sock.destroyed) return;
        if (p === '/crlf') return sock.write(`${t}\r\n`);
        if (p !== '/split') return sock.write(`${t}\n`);
        // The rest of the line a little later; lines in order, never interleaved.
        chain = chain.then(() => new Promise((resolve) => {
          sock.write(t.slice(0, 7));
          setTimeout(() => {
            if (!sock.destroyed) sock.write(`${t.slice(7)}\n`);
            resolve();
          }, 2);
        }));
        return opt;
      },
      close: () => sock.end(),
    };
    sock.on('error', () => {});
    sock.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        serve(ws, st, conn, p === '/crlf' || p === '/split' ? '/ok' : p, line);
      }
    });
  });
}

function runLoad(bin, port, c, scheme = 'ws') {
  const args = ['--json', '-c', String(c.connections ?? 2), '-p', String(c.pipeline ?? 2),
                '-d', '0.3', '-w', '0.1', '--drain', '0.3', ...(c.echo ? ['-m', 'echo', '-s', '1000'] : []),
                scheme === 'tcp' ? `tcp://127.0.0.1:${port}/` : `ws://127.0.0.1:${port}${c.path}`];
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => {
      clearTimeout(timer);
      try {
        resolve({ code, r: JSON.parse(out.trim().split('\n').pop()) });
      } catch {
        reject(new Error(`${c.path}: wsr-load exit ${code}, no result: ${err.trim()}`));
      }
    });
  });
}

async function main() {
  const bin = path.join(process.argv[2] ?? 'build-bench', 'wsr-load');
  const server = http.createServer();
  const wss = new WebSocketServer({ server });
  const stats = {}; // per path: messages seen and spoilt, over every connection
  wss.on('connection', (ws, req) => {
    const p = req.url;
    const st = (stats[p] ??= { n: 0, spoilt: 0 });
    ws.on('error', () => {});
    const conn = {};
    ws.on('message', (raw) => serve(ws, st, conn, p, raw.toString()));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  const failures = [];
  const check = (c, code, r, stats) => {
    const spoilt = stats[c.path]?.spoilt ?? 0;
    for (const [k, v] of Object.entries(r.error_detail)) {
      const want = c.expect[k] === 'spoilt' ? spoilt : c.expect[k] ?? 0;
      if (want === 'any' ? v < 1 : v !== want) failures.push(`${c.path}: ${k} is ${v}, not ${want}`);
    }
    if (Object.values(c.expect).includes('spoilt') && spoilt === 0)
      failures.push(`${c.path}: nothing spoilt`);
    // Where replies are lost, the slots they held stay taken and the load stops.
    if (r.requests < 10 && !c.expect.lost) failures.push(`${c.path}: only ${r.requests} requests`);
    if (r.requests < 10 && stats[c.path].n < 10) failures.push(`${c.path}: only ${stats[c.path].n} served`);
    if ((code === 3) !== (r.errors > 0)) failures.push(`${c.path}: exit ${code} with ${r.errors} errors`);
  };
  for (const c of CASES) {
    const { code, r } = await runLoad(bin, port, c);
    check(c, code, r, stats);
  }
  wss.close();
  server.close();
  const rawStats = {};
  for (const c of RAW_CASES) {
    const srv = rawServer(c.path, rawStats);
    await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const { code, r } = await runLoad(bin, srv.address().port, c, 'tcp');
    const n = failures.length;
    check(c, code, r, rawStats);
    for (let i = n; i < failures.length; i++) failures[i] = `tcp:// ${failures[i]}`;
    srv.close();
  }
  if (failures.length) {
    process.stderr.write(`wsr-load self-test FAILED:\n  ${failures.join('\n  ')}\n`);
    process.exit(1);
  }
  process.stdout.write(`wsr-load self-test: ${CASES.length} ws:// and ${RAW_CASES.length} tcp:// cases, ` +
                       'every fault counted\n');
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`wsr-load self-test: ${e.message}\n`);
  process.exit(1);
});
