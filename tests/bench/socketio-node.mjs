// SPDX-License-Identifier: MIT
// The Socket.IO side of the cluster scenario (issue 14): one Socket.IO v4
// server node on 127.0.0.1, joined to the other nodes through
// @socket.io/redis-adapter on a redis-server shared with them (node-redis
// clients). A client that emits "subscribe" (room, ack) joins the room; one
// that emits "publish" (room, data, ack) has data broadcast to the room on
// every node as a "publish" event, and the ack once it is handed to the
// adapter. Prints "listening on ws://127.0.0.1:PORT/" when ready; SIGTERM
// closes it.
//
//   node tests/bench/socketio-node.mjs --port 0 --redis redis://127.0.0.1:6379
import { createServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import { Server } from 'socket.io';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : def;
};
const port = Number(arg('port', '0'));
const redisUrl = arg('redis', null);
if (!Number.isInteger(port) || port < 0 || port > 65535 || !redisUrl) {
  process.stderr.write('usage: socketio-node.mjs --port N --redis redis://HOST:PORT\n');
  process.exit(2);
}

const pub = createClient({ url: redisUrl });
const sub = pub.duplicate();
for (const c of [pub, sub]) c.on('error', (e) => process.stderr.write(`redis: ${e.message}\n`));
await Promise.all([pub.connect(), sub.connect()]);

const http = createServer();
const io = new Server(http, { adapter: createAdapter(pub, sub), serveClient: false });
io.on('connection', (socket) => {
  socket.on('subscribe', (room, ack) => {
    if (typeof room !== 'string') return typeof ack === 'function' && ack({ error: 'room must be a string' });
    socket.join(room);
    if (typeof ack === 'function') ack({ ok: true });
  });
  socket.on('publish', (room, data, ack) => {
    if (typeof room !== 'string') return typeof ack === 'function' && ack({ error: 'room must be a string' });
    io.to(room).emit('publish', data);
    if (typeof ack === 'function') ack({ ok: true });
  });
});

http.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening on ws://127.0.0.1:${http.address().port}/\n`);
});

process.on('SIGTERM', async () => {
  io.close();
  await Promise.allSettled([pub.quit(), sub.quit()]);
  process.exit(0);
});
