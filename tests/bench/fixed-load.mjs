// SPDX-License-Identifier: MIT
// A fixed number of add requests, for profiling (tests/bench/profile): the
// count, not the duration, is what callgrind's per-request figure divides by.
// usage: node fixed-load.mjs PORT CONNECTIONS IN_FLIGHT TOTAL
import WebSocket from 'ws';

const [port, nconn, depth, total] = process.argv.slice(2).map(Number);
let sent = 0;
let got = 0;
let errors = 0;
const timer = setTimeout(() => { console.error(`timed out after ${got} replies`); process.exit(2); }, 600000);
await Promise.all(Array.from({ length: nconn }, () => new Promise((resolve, reject) => {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
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
