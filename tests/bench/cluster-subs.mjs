// SPDX-License-Identifier: MIT
// A subscriber process of the cluster scenario (tests/bench/cluster.mjs
// starts a few, the same ones for wsrouterd and Socket.IO). It opens COUNT
// WebSocket connections (Node's ws, no compression) to each URL, subscribes
// each one to the topic (wsrouterd: POST /_/subscribe; Socket.IO: the
// Engine.IO v4 / Socket.IO v5 frames, "subscribe" with an ack) and waits for
// every answer, then tells its parent {ready}. From then on every delivery is
// one JSON.parse, a count on its connection and a latency (now minus the
// publisher's wall-clock timestamp in the data, both from
// performance.timeOrigin + performance.now()). When its parent sends
// {count} it answers {delivered}; when it sends {report}, it writes the
// latencies (Float64, ms) to the file it was given, answers {delivered, the
// fewest and most a connection got, the last delivery's time} and exits.
//
//   (child process with IPC) cluster-subs.mjs KIND COUNT PUBS LATFILE URL...
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

const [kind, countArg, pubsArg, latFile, ...urls] = process.argv.slice(2);
const COUNT = Number(countArg), PUBS = Number(pubsArg);
if (!['wsrouter', 'socketio'].includes(kind) || !(COUNT > 0) || !(PUBS > 0) || !latFile || !urls.length) {
  process.stderr.write('usage: cluster-subs.mjs wsrouter|socketio COUNT PUBS LATFILE URL...\n');
  process.exit(2);
}
const OPEN_TIMEOUT_MS = 15000;
const now = () => performance.timeOrigin + performance.now();

const total = COUNT * urls.length;
const lat = new Float64Array(total * PUBS);
let nlat = 0, delivered = 0, extra = 0, bad = 0, last = 0;
const counts = new Uint32Array(total);
const conns = [];

function onDelivery(idx, data) {
  const t = now();
  if (!data || typeof data.t !== 'number') {
    bad++;
    return;
  }
  delivered++;
  counts[idx]++;
  last = t;
  if (nlat < lat.length) lat[nlat++] = t - data.t;
  else extra++;
}

// Opens one connection and subscribes it; resolves once the subscription is answered.
function subscriber(url, idx) {
  return new Promise((resolve, reject) => {
    const target = kind === 'wsrouter' ? url : `${url}socket.io/?EIO=4&transport=websocket`;
    const ws = new WebSocket(target, { perMessageDeflate: false });
    const timer = setTimeout(() => reject(new Error(`${target}: not subscribed within 15 s`)), OPEN_TIMEOUT_MS);
    let subscribed = false;
    const ok = () => {
      subscribed = true;
      clearTimeout(timer);
      resolve(ws);
    };
    ws.once('error', (e) => reject(new Error(`${target}: ${e.message}`)));
    ws.once('close', (code) => {
      if (!subscribed) reject(new Error(`${target}: closed ${code} before subscribing`));
    });
    if (kind === 'wsrouter') {
      ws.once('open', () => ws.send(JSON.stringify({ method: 'POST', url: '/_/subscribe', args: { topic: 'bench' },
                                                     event_name: 'sub' })));
      ws.on('message', (d) => {
        const m = JSON.parse(d);
        if (m.event_name === 'publish') onDelivery(idx, m.data);
        else if (m.event_name === 'sub') {
          if (m.status === 200) ok();
          else reject(new Error(`${target}: subscribe answered ${m.status} ${JSON.stringify(m.detail)}`));
        }
      });
    } else {
      // Engine.IO: "0{open}" "2" ping "3" pong "4…" message; Socket.IO inside:
      // "0" connect, "2[…]" event, "3<id>[…]" ack.
      ws.on('message', (d) => {
        const s = d.toString();
        if (s.startsWith('42')) {
          const m = JSON.parse(s.slice(2));
          if (m[0] === 'publish') onDelivery(idx, m[1]);
        } else if (s === '2') ws.send('3');
        else if (s[0] === '0') ws.send('40');
        else if (s.startsWith('40')) ws.send('421["subscribe","bench"]');
        else if (s.startsWith('431')) {
          const r = JSON.parse(s.slice(3))[0];
          if (r && r.ok) ok();
          else reject(new Error(`${target}: subscribe answered ${s}`));
        } else if (s.startsWith('44')) reject(new Error(`${target}: connect refused: ${s}`));
      });
    }
  });
}

try {
  let idx = 0;
  for (const url of urls) {
    // 50 at a time: quick, without a burst of thousands of handshakes.
    for (let i = 0; i < COUNT; i += 50) {
      const batch = [];
      for (let j = i; j < Math.min(COUNT, i + 50); j++) batch.push(subscriber(url, idx++));
      conns.push(...(await Promise.all(batch)));
    }
  }
} catch (e) {
  process.send({ error: e.message });
  process.exit(1);
}
process.send({ ready: total });

process.on('message', (m) => {
  if (m.count) process.send({ delivered });
  if (m.report) {
    writeFileSync(latFile, Buffer.from(lat.buffer, 0, nlat * 8));
    let min = Infinity, max = 0;
    for (const c of counts) {
      min = Math.min(min, c);
      max = Math.max(max, c);
    }
    process.send({ delivered, latencies: nlat, extra, bad, min, max, last });
    for (const ws of conns) ws.terminate();
    setTimeout(() => process.exit(0), 100);
  }
});
process.on('disconnect', () => process.exit(0));
