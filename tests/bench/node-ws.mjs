// SPDX-License-Identifier: MIT
/*
 * node-ws: the second baseline of wsrouter's benchmark (GitHub issue 8), what
 * many users would pick instead: Node's `ws` server (from tests/node_modules)
 * answering the same two requests as wsrouterd and minimal-lws, `add` (by
 * cmd, or /math/add) and /echo, with the same reply shape. JSON.parse and
 * JSON.stringify, one send per reply, no routing. It binds 127.0.0.1 only,
 * serves ws:// or (with --tls-cert and --tls-key) wss:// through
 * https.createServer, and prints "node-ws listening on ws://127.0.0.1:PORT/"
 * once it listens. SIGINT and SIGTERM end it.
 *
 *   node tests/bench/node-ws.mjs [--port N] [--tls-cert FILE --tls-key FILE]
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { WebSocketServer } from 'ws';

const MAX_MESSAGE = 1024 * 1024; // wsrouterd's default max_message

function parseArgs(argv) {
  const o = { port: 7682, cert: null, key: null };
  for (let i = 0; i < argv.length; i += 2) {
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`${argv[i]} needs a value`);
    if (argv[i] === '--port') o.port = Number(v);
    else if (argv[i] === '--tls-cert') o.cert = v;
    else if (argv[i] === '--tls-key') o.key = v;
    else throw new Error(`unknown option ${argv[i]}`);
  }
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) throw new Error('bad --port');
  if (!o.cert !== !o.key) throw new Error('--tls-cert and --tls-key go together');
  return o;
}

// The reply to one message, as JSON text: the same members as wsrouterd's.
function answer(text) {
  let req;
  try {
    req = JSON.parse(text);
  } catch {
    req = null;
  }
  const rep = { status: 200 };
  if (req === null || typeof req !== 'object' || Array.isArray(req)) {
    rep.status = 400;
  } else if (req.cmd === 'add' || req.url === '/math/add') {
    const { x, y } = req.args ?? {};
    if (typeof x === 'number' && typeof y === 'number') rep.data = x + y;
    else rep.status = 422;
  } else if (req.url === '/echo') {
    rep.data = req.data ?? null;
  } else {
    rep.status = 404;
  }
  if (rep.status !== 200) rep.detail = 'not served by node-ws';
  if (req && req.id !== undefined) rep.id = req.id;
  rep.event_name = req?.event_name ?? null;
  return JSON.stringify(rep);
}

function main() {
  const o = parseArgs(process.argv.slice(2));
  const tls = o.cert !== null;
  const server = tls
    ? https.createServer({ cert: fs.readFileSync(o.cert), key: fs.readFileSync(o.key) })
    : http.createServer();
  server.on('request', (req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' });
    res.end('a WebSocket server\n');
  });
  const wss = new WebSocketServer({ server, maxPayload: MAX_MESSAGE });
  wss.on('connection', (ws) => {
    ws.on('error', () => {}); // a client that resets is not our problem
    ws.on('message', (data, isBinary) => ws.send(answer(isBinary ? '' : data.toString())));
  });
  server.listen(o.port, '127.0.0.1', () => {
    const scheme = tls ? 'wss' : 'ws';
    process.stdout.write(`node-ws listening on ${scheme}://127.0.0.1:${server.address().port}/\n`);
  });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
}

try {
  main();
} catch (e) {
  process.stderr.write(`node-ws: ${e.message}\n`);
  process.exit(1);
}
