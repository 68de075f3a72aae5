// SPDX-License-Identifier: MIT
// A raw-socket WebSocket client (Node's net, tls and zlib only) that writes
// frames byte by byte as a test asks: FIN, RSV bits, opcode, mask, any length
// field, chopped writes. It reads the server's frames as they come and
// records how the connection ended (who closed TCP, and when). Used by the
// conformance suite (run.mjs) and by tests/js that need frames no real
// client would send. Every wait is bounded.
import net from 'node:net';
import tls from 'node:tls';
import zlib from 'node:zlib';
import { randomBytes, createHash } from 'node:crypto';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** A client frame: masked unless `mask` is false; `len` overrides the
 * length field (a lie about the payload, or 2^63), `len7` the 7-bit field. */
export function frame(opcode, payload = Buffer.alloc(0), opts = {}) {
  const { fin = true, rsv = 0, mask = true, len = payload.length, len7 } = opts;
  const p = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  let head;
  if (len7 !== undefined || len < 126) {
    head = Buffer.from([0, len7 ?? len]);
  } else if (len < 65536) {
    head = Buffer.alloc(4);
    head[1] = 126;
    head.writeUInt16BE(len, 2);
  } else {
    head = Buffer.alloc(10);
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  head[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f);
  if (!mask) return Buffer.concat([head, p]);
  head[1] |= 0x80;
  const key = randomBytes(4);
  const body = Buffer.from(p);
  for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
  return Buffer.concat([head, key, body]);
}

/** A close frame's payload: the code, then the reason. */
export function closePayload(code, reason = '') {
  const b = Buffer.alloc(2 + Buffer.byteLength(reason));
  b.writeUInt16BE(code, 0);
  b.write(reason, 2);
  return b;
}

/** Compresses one message for permessage-deflate (no context kept):
 * deflate-raw, then the 00 00 ff ff tail removed (RFC 7692 7.2.1). */
export function deflateMessage(data) {
  const out = zlib.deflateRawSync(Buffer.isBuffer(data) ? data : Buffer.from(data), {
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  return out.subarray(0, out.length - 4);
}

/** Parses the server's frames out of `buf`; returns [frames, rest]. */
function parseFrames(buf) {
  const frames = [];
  let off = 0;
  for (;;) {
    if (buf.length - off < 2) break;
    const b0 = buf[off];
    const b1 = buf[off + 1];
    let len = b1 & 0x7f;
    let hl = 2;
    if (len === 126) {
      if (buf.length - off < 4) break;
      len = buf.readUInt16BE(off + 2);
      hl = 4;
    } else if (len === 127) {
      if (buf.length - off < 10) break;
      len = Number(buf.readBigUInt64BE(off + 2));
      hl = 10;
    }
    const masked = (b1 & 0x80) !== 0;
    if (masked) hl += 4;
    if (buf.length - off < hl + len) break;
    const payload = Buffer.from(buf.subarray(off + hl, off + hl + len));
    frames.push({ fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked, payload });
    off += hl + len;
  }
  return [frames, buf.subarray(off)];
}

export class RawClient {
  /**
   * Opens a TCP (or TLS) connection and performs the upgrade. Options:
   * host, port, path, protocol (Sec-WebSocket-Protocol), extensions
   * (Sec-WebSocket-Extensions), headers (more lines), tls (options for
   * tls.connect), timeoutMs. Resolves with the client; `status` and
   * `headers` hold the server's answer.
   */
  static async open(opts) {
    const c = new RawClient();
    await c._open(opts);
    return c;
  }

  async _open({ host = '127.0.0.1', port, path = '/', protocol, extensions, headers = [],
    tls: tlsOpts, timeoutMs = 5000, rawRequest }) {
    this.frames = [];
    this.waiters = [];
    this.buf = Buffer.alloc(0);
    this.tcpEnded = false; // the server's FIN (or RST) came
    this.endedAt = 0;
    this.closeSentAt = 0;
    this.error = null;
    const key = randomBytes(16).toString('base64');
    const lines = [
      `GET ${path} HTTP/1.1`, `Host: ${host}:${port}`, 'Upgrade: websocket', 'Connection: Upgrade',
      `Sec-WebSocket-Key: ${key}`, 'Sec-WebSocket-Version: 13',
    ];
    if (protocol) lines.push(`Sec-WebSocket-Protocol: ${protocol}`);
    if (extensions) lines.push(`Sec-WebSocket-Extensions: ${extensions}`);
    const request = rawRequest ?? `${[...lines, ...headers].join('\r\n')}\r\n\r\n`;
    this.sock = tlsOpts
      ? tls.connect({ host, port, ...tlsOpts })
      : net.connect({ host, port });
    this.sock.setNoDelay(true);
    const head = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no handshake answer within ${timeoutMs} ms`)), timeoutMs);
      let got = Buffer.alloc(0);
      const onData = (d) => {
        got = Buffer.concat([got, d]);
        const end = got.indexOf('\r\n\r\n');
        if (end < 0) return;
        clearTimeout(timer);
        this.sock.off('data', onData);
        this.buf = got.subarray(end + 4);
        resolve(got.subarray(0, end).toString('latin1'));
      };
      this.sock.on('data', onData);
      this.sock.once('error', (e) => { clearTimeout(timer); reject(e); });
      this.sock.once('close', () => { clearTimeout(timer); resolve(got.toString('latin1')); });
      this.sock.once(tlsOpts ? 'secureConnect' : 'connect', () => this.sock.write(request));
    });
    const [statusLine, ...hl] = head.split('\r\n');
    this.statusLine = statusLine;
    this.status = Number(/^HTTP\/1\.1 (\d+)/.exec(statusLine)?.[1] ?? 0);
    this.headers = {};
    for (const l of hl) {
      const i = l.indexOf(':');
      if (i > 0) this.headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    if (this.status === 101) {
      const accept = createHash('sha1').update(key + GUID).digest('base64');
      if (this.headers['sec-websocket-accept'] !== accept) throw new Error('bad Sec-WebSocket-Accept');
    }
    this.sock.on('data', (d) => this._data(d));
    this.sock.on('error', (e) => { this.error = e; });
    this.sock.on('end', () => this._ended());
    this.sock.on('close', () => this._ended());
    if (this.buf.length) this._data(Buffer.alloc(0));
    if (this.sock.destroyed) this._ended();
  }

  _data(d) {
    this.buf = Buffer.concat([this.buf, d]);
    const [frames, rest] = parseFrames(this.buf);
    this.buf = rest;
    for (const f of frames) {
      f.at = Date.now();
      this.frames.push(f);
    }
    this._wake();
  }

  _ended() {
    if (!this.tcpEnded) {
      this.tcpEnded = true;
      this.endedAt = Date.now();
    }
    this._wake();
  }

  _wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves once `cond()` holds, or false after `ms`. */
  async until(cond, ms) {
    const deadline = Date.now() + ms;
    while (!cond()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
    return true;
  }

  /** Writes bytes, whole or chopped into pieces of `chop` bytes with a
   * pause between them. */
  async write(bytes, { chop = 0, pauseMs = 1 } = {}) {
    if (this.sock.destroyed) return;
    if (!chop) {
      this.sock.write(bytes);
      return;
    }
    for (let i = 0; i < bytes.length && !this.sock.destroyed; i += chop) {
      this.sock.write(bytes.subarray(i, i + chop));
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  }

  send(opcode, payload, opts) {
    return this.write(frame(opcode, payload, opts), opts);
  }

  /** Sends a close frame (code, or none when undefined) and notes when. */
  sendClose(code, reason) {
    this.closeSentAt = Date.now();
    return this.send(8, code === undefined ? Buffer.alloc(0) : closePayload(code, reason));
  }

  /** The data messages received so far, reassembled and inflated:
   * [{ opcode, data, compressed }]. */
  messages() {
    const out = [];
    let cur = null;
    for (const f of this.frames) {
      if (f.opcode >= 8) continue;
      if (f.opcode !== 0) cur = { opcode: f.opcode, parts: [], compressed: (f.rsv & 4) !== 0 };
      if (!cur) continue;
      cur.parts.push(f.payload);
      if (f.fin) {
        let data = Buffer.concat(cur.parts);
        if (cur.compressed) {
          data = zlib.inflateRawSync(Buffer.concat([data, Buffer.from([0, 0, 0xff, 0xff])]), {
            finishFlush: zlib.constants.Z_SYNC_FLUSH,
          });
        }
        out.push({ opcode: cur.opcode, data, compressed: cur.compressed });
        cur = null;
      }
    }
    return out;
  }

  /** The server's close frame, or undefined: { code, reason, index, at }. */
  closeFrame() {
    const i = this.frames.findIndex((f) => f.opcode === 8);
    if (i < 0) return undefined;
    const p = this.frames[i].payload;
    return {
      code: p.length >= 2 ? p.readUInt16BE(0) : null,
      reason: p.subarray(2).toString(),
      length: p.length,
      index: i,
      at: this.frames[i].at,
    };
  }

  /** Waits for the server's close frame, answers it (when it came), and
   * waits for TCP to end. Returns { close, tcpEnded, endedAt }. */
  async finish(ms = 3000) {
    await this.until(() => this.closeFrame() || this.tcpEnded, ms);
    const close = this.closeFrame();
    if (close && !this.tcpEnded && !this.closeSentAt) await this.sendClose(close.code ?? 1000);
    await this.until(() => this.tcpEnded, ms);
    return { close, tcpEnded: this.tcpEnded, endedAt: this.endedAt };
  }

  destroy() {
    this.sock.destroy();
  }
}
