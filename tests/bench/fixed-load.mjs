// SPDX-License-Identifier: MIT
// A fixed number of add requests, for profiling (tests/bench/profile): the
// count, not the duration, is what callgrind's per-request figure divides by.
// `tcp` sends them as NDJSON lines to wsrouterd's raw port instead of over
// WebSocket (the same request, every reply checked the same way).
// usage: node fixed-load.mjs PORT CONNECTIONS IN_FLIGHT TOTAL [ws|wsz|wszn|tcp]
import net from 'node:net';
import WebSocket from 'ws';

const [port, nconn, depth, total] = process.argv.slice(2, 6).map(Number);
const via = process.argv[6] ?? 'ws';
let sent = 0;
let got = 0;
let errors = 0;
const timer = setTimeout(() => { console.error(`timed out after ${got} replies`); process.exit(2); }, 600000);

// A connection over `via`: send(text), close(), on('open'|'message'|'error').
function connect() {
  // wsz: WebSocket with permessage-deflate offered (ws's defaults: messages
  // under 1 KiB go uncompressed, as the server's replies under
  // compression_min_bytes do).
  // wszn: the same offering client_no_context_takeover.
  if (via === 'ws' || via === 'wsz' || via === 'wszn')
    return new WebSocket(`ws://127.0.0.1:${port}/`, {
      perMessageDeflate: via === 'ws' ? false : via === 'wsz' || { clientNoContextTakeover: true },
    });
  const sock = net.connect(port, '127.0.0.1');
  const h = {};
  let buf = '';
  sock.setNoDelay(true);
  sock.on('connect', () => h.open());
  sock.on('error', (e) => h.error(e));
  sock.on('data', (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      h.message(line);
    }
  });
  return { on: (ev, f) => (h[ev] = f), send: (t) => sock.write(`${t}\n`), close: () => sock.end() };
}

await Promise.all(Array.from({ length: nconn }, () => new Promise((resolve, reject) => {
  const ws = connect();
  let inflight = 0;
  const send = () => {
    if (sent >= total) return false;
    const i = sent++;
    inflight++;
    ws.send(`{"cmd":"add","args":{"x":${i},"y":2},"id":${i}}`);
    return true;
  };
  ws.on('error', reject);
  ws.on('open', () => { for (let k = 0; k < depth; k++) send(); });
  ws.on('message', (d) => {
    const m = JSON.parse(d);
    if (m.status !== 200 || m.data !== m.id + 2) errors++;
    got++;
    inflight--;
    if (!send() && inflight === 0) { ws.close(); resolve(); }
  });
})));
clearTimeout(timer);
console.log(`${got} replies, ${errors} wrong`);
process.exit(errors ? 3 : 0);
