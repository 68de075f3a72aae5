// SPDX-License-Identifier: MIT
// permessage-deflate (RFC 7692, issue 15) against the real wsrouterd: off by
// default; when on, negotiated with Node's `ws` and with a raw-socket
// client; replies under compression_min_bytes go out uncompressed; the
// inflated size counts against max_message (a decompression bomb is closed
// 1009 after at most max_message bytes); a message libwebsockets 4.1.6
// would abort on is refused with 1011, and the server stays up.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { connect, withServer, startServer } from './harness.mjs';
import { RawClient, deflateMessage } from '../conformance/wsraw.mjs';

const ON = ['--modules', 'all', '--set', 'compression=true'];

/** The server still answers another compressing client (after a hostile one). */
async function stillServes(srv) {
  const other = await connect(srv.url, { protocols: ['wsrouter.echo'], perMessageDeflate: true });
  other.send('still here');
  assert.equal((await other.next()).text, 'still here');
  await other.close();
}

async function rawRequest(srv, obj, opts = {}) {
  const c = await RawClient.open({ port: srv.port, extensions: 'permessage-deflate', ...opts });
  await c.send(1, Buffer.from(JSON.stringify(obj)));
  assert.ok(await c.until(() => c.messages().length >= 1, 5000), 'a reply');
  const [m] = c.messages();
  c.destroy();
  return { ...m, json: JSON.parse(m.data.toString()), ext: c.headers['sec-websocket-extensions'] };
}

describe('permessage-deflate', () => {
  test('is off by default: an offer is not taken up', async () => {
    await withServer(['--modules', 'all'], async (srv) => {
      const c = await connect(srv.url, { perMessageDeflate: true });
      assert.equal(c.ws.extensions, '');
      const r = await c.request({ method: 'GET', url: '/diag/big?bytes=5000', id: 1 });
      assert.equal(r.data.length, 5000);
      await c.close();
      const raw = await rawRequest(srv, { method: 'GET', url: '/diag/big?bytes=5000' });
      assert.equal(raw.ext, undefined);
      assert.equal(raw.compressed, false);
    });
  });

  test('when on, ws negotiates it and large replies arrive whole', async () => {
    await withServer(ON, async (srv) => {
      const c = await connect(srv.url, { perMessageDeflate: true });
      assert.match(c.ws.extensions, /^permessage-deflate/);
      for (const bytes of [5000, 100000, 600000]) {
        const r = await c.request({ method: 'GET', url: `/diag/big?bytes=${bytes}`, id: bytes }, 15000);
        assert.equal(r.status, 200);
        assert.equal(r.data.length, bytes);
      }
      // Pipelined small and large replies stay in order.
      for (let i = 0; i < 20; i++) {
        c.send(JSON.stringify({ method: 'GET', url: `/diag/big?bytes=${i % 2 ? 3000 : 10}`, id: i }));
      }
      for (let i = 0; i < 20; i++) {
        const r = await c.nextJson(10000);
        assert.equal(r.id, i);
        assert.equal(r.data.length, i % 2 ? 3000 : 10);
      }
      assert.equal((await c.request({ cmd: 'ping' })).data, 'PONG');
      await c.close();
      // A client that offers nothing gets nothing.
      const plain = await connect(srv.url, { perMessageDeflate: false });
      assert.equal(plain.ws.extensions, '');
      assert.equal((await plain.request({ cmd: 'ping' })).data, 'PONG');
      await plain.close();
    });
  });

  test('replies under compression_min_bytes go out uncompressed', async () => {
    await withServer(ON, async (srv) => {
      const small = await rawRequest(srv, { cmd: 'ping' });
      assert.match(small.ext, /^permessage-deflate/);
      assert.equal(small.compressed, false);
      const big = await rawRequest(srv, { method: 'GET', url: '/diag/big?bytes=5000' });
      assert.equal(big.compressed, true);
      assert.equal(big.json.data.length, 5000);
    });
    await withServer([...ON, '--set', 'compression_min_bytes=0'], async (srv) => {
      const small = await rawRequest(srv, { cmd: 'ping' });
      assert.equal(small.compressed, true);
      assert.equal(small.json.data, 'PONG');
    });
  });

  test('a client that keeps its context sends many compressed messages (echo mode)', async () => {
    await withServer([...ON, '--set', 'echo_mode=true'], async (srv) => {
      const c = await connect(srv.url, { protocols: ['wsrouter.echo'], perMessageDeflate: true });
      assert.match(c.ws.extensions, /^permessage-deflate/);
      for (let i = 0; i < 8; i++) {
        const text = `${'{"k":"value","n":'.repeat(2000 * (i + 1))}${i}`;
        c.send(text);
        const m = await c.next(10000);
        assert.equal(m.text, text, `message ${i}`);
      }
      const bin = Buffer.alloc(300000);
      for (let i = 0; i < bin.length; i++) bin[i] = (i * 7) & 0xff;
      c.send(bin);
      const m = await c.next(10000);
      assert.ok(m.isBinary);
      assert.ok(Buffer.compare(m.data, bin) === 0);
      await c.close();
    });
  });

  test('the echo subprotocol is refused unless echo_mode is on', async () => {
    await withServer(ON, async (srv) => {
      await assert.rejects(connect(srv.url, { protocols: ['wsrouter.echo'] }));
    });
  });

  test('a decompression bomb closes 1009 after at most max_message bytes', async () => {
    await withServer([...ON, '--set', 'echo_mode=true', '--set', 'max_message=64K'], async (srv) => {
      for (const opcode of [1, 2]) {
        const bomb = await RawClient.open({ port: srv.port, protocol: 'wsrouter.echo',
          extensions: 'permessage-deflate' });
        // 64 MiB of zeros in about 64 KiB: a thousand times max_message.
        const payload = deflateMessage(Buffer.alloc(64 * 1024 * 1024));
        assert.ok(payload.length < 128 * 1024);
        await bomb.send(opcode, payload, { rsv: 4 });
        const { close, tcpEnded } = await bomb.finish(10000);
        assert.equal(close?.code, 1009, `opcode ${opcode}`);
        assert.ok(tcpEnded);
        assert.equal(bomb.messages().length, 0, 'nothing echoed');
      }
      // Just under the limit still goes through, compressed both ways.
      const ok = await RawClient.open({ port: srv.port, protocol: 'wsrouter.echo',
        extensions: 'permessage-deflate' });
      const text = Array.from({ length: 20000 }, (_, i) => i).join(',').slice(0, 60000);
      await ok.send(1, deflateMessage(text), { rsv: 4 });
      assert.ok(await ok.until(() => ok.messages().length >= 1, 5000));
      assert.equal(ok.messages()[0].data.toString(), text);
      ok.destroy();
      const stats = await connect(srv.url);
      assert.equal((await stats.request({ cmd: 'ping' })).data, 'PONG');
      await stats.close();
    });
  });

  test('a message libwebsockets 4.1.6 would abort on is refused with 1011, the server stays up', async () => {
    await withServer([...ON, '--set', 'echo_mode=true'], async (srv) => {
      // A run of one letter compressed with a final block: lws's inflater
      // uses all of it with its output chunk full (deflate.c).
      const full = zlib.deflateRawSync(Buffer.alloc(5000, 'x'), { flush: zlib.constants.Z_SYNC_FLUSH });
      const c = await RawClient.open({ port: srv.port, protocol: 'wsrouter.echo',
        extensions: 'permessage-deflate' });
      await c.send(1, full.subarray(0, full.length - 4), { rsv: 4 });
      const { close } = await c.finish(5000);
      assert.equal(close?.code, 1011);
      assert.match(close.reason, /cannot inflate/);
      await stillServes(srv);
    });
  });

  test('the guard follows a connection that keeps its context: pongs, plain and long messages between', async () => {
    await withServer([...ON, '--set', 'echo_mode=true', '--log-level', 'debug'], async (srv) => {
      // The client keeps its context (one deflate stream for all its
      // messages), so lws keeps its inflater and the guard its twin of it.
      const tx = zlib.createDeflateRaw();
      const next = (data) => new Promise((resolve, reject) => {
        const parts = [];
        const onData = (d) => parts.push(d);
        tx.on('data', onData);
        tx.write(Buffer.from(data));
        tx.flush(zlib.constants.Z_SYNC_FLUSH, () => {
          tx.off('data', onData);
          const out = Buffer.concat(parts);
          if (out.length < 4) reject(new Error('short flush'));
          else resolve(out.subarray(0, out.length - 4));
        });
      });
      const c = await RawClient.open({ port: srv.port, protocol: 'wsrouter.echo',
        extensions: 'permessage-deflate' });
      const sent = [];
      const expect = async (n) => {
        assert.ok(await c.until(() => c.messages().length >= n || c.closeFrame(), 10000), `${n} echoes`);
        assert.equal(c.closeFrame()?.code, undefined, `closed ${c.closeFrame()?.code} ${c.closeFrame()?.reason}`);
        assert.deepEqual(c.messages().map((m) => m.data.toString('latin1')), sent);
      };
      for (let i = 0; i < 5; i++) {
        const text = `{"cmd":"echo","n":${i},"pad":"${'abc'.repeat(40 * i)}"}`;
        sent.push(text);
        await c.send(1, await next(text), { rsv: 4 });
      }
      await expect(5);
      // A message in two frames with a pong between them: the pong's payload
      // (which looks like deflate input) is not the message's.
      const two = 'two frames '.repeat(300);
      const wire = await next(two);
      sent.push(two);
      await c.send(1, wire.subarray(0, 100), { rsv: 4, fin: false });
      await c.send(10, Buffer.from('\x8b\xf0not deflate at all, a pong'));
      await c.send(0, wire.subarray(100), { fin: true });
      // A plain message, then 200 KiB that hardly compress, read in many chunks.
      sent.push('plain between');
      await c.send(1, Buffer.from('plain between'));
      const noise = Buffer.alloc(200 * 1024);
      for (let i = 0; i < noise.length; i++) noise[i] = 32 + ((i * 2654435761) >>> 25) % 90;
      sent.push(noise.toString('latin1'));
      await c.send(1, await next(noise), { rsv: 4 });
      sent.push('after');
      await c.send(1, await next('after'), { rsv: 4 });
      await expect(9);
      // All of it followed by the twin, which never went out of step.
      assert.equal(srv.stderr().match(/the inflater's twin follows/g)?.length, 1, srv.stderr());
      assert.doesNotMatch(srv.stderr(), /twin (is out of step|stopped)/);
      // Then the message lws would abort on (the one of the test above,
      // compressed on its own: it refers to nothing before it), on this
      // stream: refused, and the server is still up.
      const full = zlib.deflateRawSync(Buffer.alloc(5000, 'x'), { flush: zlib.constants.Z_SYNC_FLUSH });
      await c.send(1, full.subarray(0, full.length - 4), { rsv: 4 });
      const { close } = await c.finish(5000);
      assert.equal(close?.code, 1011);
      assert.match(close.reason, /cannot inflate/);
      tx.close();
      await stillServes(srv);
    });
  });

  test('messages that end their deflate stream (a final block, RFC 7692 7.2.3.4) are inflated one after another', async () => {
    await withServer([...ON, '--set', 'echo_mode=true'], async (srv) => {
      // lws 4.1.6 left the trailer it puts back unread after a final block
      // and took it for the next message's input: the second one was lost.
      for (const extensions of ['permessage-deflate', 'permessage-deflate; client_no_context_takeover']) {
        const c = await RawClient.open({ port: srv.port, protocol: 'wsrouter.echo', extensions });
        const texts = ['first, in a final block', 'second', 'x'.repeat(3000), 'fourth'];
        for (const t of texts) await c.send(1, zlib.deflateRawSync(Buffer.from(t)), { rsv: 4 });
        // And one the usual way (a sync flush) after them.
        await c.send(1, deflateMessage('then a sync flush'), { rsv: 4 });
        assert.ok(await c.until(() => c.messages().length >= 5 || c.closeFrame(), 5000), extensions);
        assert.equal(c.closeFrame()?.code, undefined, `${extensions}: closed ${c.closeFrame()?.reason}`);
        assert.deepEqual(c.messages().map((m) => m.data.toString()), [...texts, 'then a sync flush']);
        c.destroy();
      }
    });
  });

  test('data after a final deflate block in the same message closes 1007, the server stays up', async () => {
    await withServer([...ON, '--set', 'echo_mode=true', '--io-threads', '1'], async (srv) => {
      const fin = zlib.deflateRawSync(Buffer.from('hello hello hello'));
      const c = await RawClient.open({ port: srv.port, protocol: 'wsrouter.echo',
        extensions: 'permessage-deflate' });
      await c.send(1, Buffer.concat([fin, deflateMessage('more')]), { rsv: 4 });
      const { close } = await c.finish(5000);
      assert.equal(close?.code, 1007);
      assert.match(close.reason, /after its final block/);
      await stillServes(srv);
    });
  });

  test('11 bytes whose last code the trailer completes are refused 1011 on both guards, the server stays up', async () => {
    await withServer([...ON, '--set', 'echo_mode=true'], async (srv) => {
      // 1003 'x's compressed, one bit flipped (found by fuzz_deflate): lws
      // 4.1.6 uses all of it with room left in its chunk, puts the trailer
      // back, and what the completed code copies fills the room and its 5
      // bytes more: it aborted the server, through the guard on a copy.
      const crafted = Buffer.from('aaa81805a360148c004000', 'hex');
      for (const extensions of ['permessage-deflate; client_no_context_takeover', 'permessage-deflate']) {
        const c = await RawClient.open({ port: srv.port, protocol: 'wsrouter.echo', extensions });
        await c.send(1, crafted, { rsv: 4 });
        const { close } = await c.finish(5000);
        assert.equal(close?.code, 1011, extensions);
        assert.match(close.reason, /cannot inflate/);
      }
      await stillServes(srv);
    });
  });

  test('the same message split before its end is inflated: only a final frame is guarded', async () => {
    await withServer([...ON, '--set', 'echo_mode=true'], async (srv) => {
      // The guard predicted the abort at the end of every frame, but lws puts
      // the trailer back only at the end of the message: a first frame ending
      // where the message above ends was refused 1011 although lws inflates it.
      const full = zlib.deflateRawSync(Buffer.alloc(5000, 'x'), { flush: zlib.constants.Z_SYNC_FLUSH });
      const c = await RawClient.open({ port: srv.port, protocol: 'wsrouter.echo',
        extensions: 'permessage-deflate' });
      await c.send(1, full.subarray(0, full.length - 4), { rsv: 4, fin: false });
      await c.send(0, full.subarray(full.length - 4), { fin: true });
      assert.ok(await c.until(() => c.messages().length >= 1 || c.closeFrame(), 5000), 'an answer');
      assert.equal(c.closeFrame()?.code, undefined, `closed ${c.closeFrame()?.code} ${c.closeFrame()?.reason}`);
      assert.equal(c.messages()[0].data.toString(), 'x'.repeat(5000));
      c.destroy();
    });
  });

  test('compression_min_bytes over 8192 is refused at startup', async () => {
    await assert.rejects(startServer([...ON, '--set', 'compression_min_bytes=9000']),
      /compression_min_bytes/);
  });
});
