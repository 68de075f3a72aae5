// SPDX-License-Identifier: MIT
// Ambiguous HTTP framing (issue 15 item 7) against the real wsrouterd, on
// raw sockets: Content-Length twice, or Transfer-Encoding with
// Content-Length, on a plain HTTP request or a WebSocket handshake, is
// answered 400 with a sentence and the connection is closed; a well-formed
// request beside them is served.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { connect, withServer } from './harness.mjs';

/** Writes `req` on a fresh socket; resolves with what came back and whether
 * the server closed within `ms`. */
function raw(port, req, ms = 3000) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(req));
    let got = '';
    const timer = setTimeout(() => { s.destroy(); resolve({ got, closed: false }); }, ms);
    s.on('data', (d) => { got += d; });
    s.on('error', () => {});
    s.on('close', () => { clearTimeout(timer); resolve({ got, closed: true }); });
  });
}

const UPGRADE = 'Upgrade: websocket\r\nConnection: Upgrade\r\n'
  + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n';

describe('ambiguous HTTP framing', () => {
  const cases = [
    ['two Content-Length headers', 'GET /_/health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello',
      'a request may not carry two Content-Length headers'],
    ['two equal Content-Length headers', 'GET /_/health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n',
      'a request may not carry two Content-Length headers'],
    ['Transfer-Encoding with Content-Length', 'POST /_/health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'a request may not carry both Transfer-Encoding and Content-Length'],
    ['a handshake with two Content-Length headers', `GET / HTTP/1.1\r\nHost: x\r\n${UPGRADE}Content-Length: 1\r\nContent-Length: 2\r\n\r\n`,
      'a request may not carry two Content-Length headers'],
  ];
  for (const [what, req, detail] of cases) {
    test(`${what}: 400 and close, the server goes on`, async () => {
      await withServer([], async (srv) => {
        const r = await raw(srv.port, req);
        assert.match(r.got, /^HTTP\/1.1 400 Bad Request\r\n/);
        assert.equal(JSON.parse(r.got.slice(r.got.indexOf('\r\n\r\n') + 4)).detail, detail);
        assert.ok(r.closed, 'the connection stayed open');
        const ok = await raw(srv.port, 'GET /_/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
        assert.match(ok.got, /^HTTP\/1.1 200 OK/);
        const c = await connect(srv.url);
        assert.equal((await c.request({ cmd: 'ping' })).data, 'PONG');
        await c.close();
      });
    });
  }
});
