// SPDX-License-Identifier: MIT
// Test harness: starts the real wsrouterd on a free port (it binds port 0 and
// prints the port it got, so the listener is always its own) and talks to it
// with Node's `ws`, a client independent of our code. Every wait is bounded.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import WebSocket from 'ws';

export const WSRD = process.env.WSRD ?? new URL('../../build/wsrouterd', import.meta.url).pathname;

/** A TCP port on 127.0.0.1 that nothing listens on right now (the caller
 * checks that the listener it starts there is its own). */
export async function freePort() {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address();
  s.close();
  await once(s, 'close');
  return port;
}

/** Rejects after `ms` with a message naming what was awaited. */
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves once `cond()` is true; polls every 10 ms, rejects after `ms`
 * (and stops polling: nothing is left running to keep the test alive). */
export async function waitFor(cond, ms, what) {
  const deadline = Date.now() + ms;
  // cond may be async: its promise is awaited (a promise itself is truthy).
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Starts wsrouterd with `args` (after --port 0) and resolves once it listens.
 * Returns { url, port, proc, stderr(), stop(signal) -> {code, signal} }.
 */
export async function startServer(args = [], { env = {} } = {}) {
  // Each server gets a store of its own (parallel suites never share one),
  // unless the test names one.
  let scratch = null;
  if (!args.some((a) => a === '--store' || String(a).startsWith('store='))) {
    scratch = mkdtempSync(join(tmpdir(), 'wsrd-store-'));
    args = ['--store', join(scratch, 'wsrouter.db'), ...args];
  }
  const proc = spawn(WSRD, ['--port', '0', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  // 'close', not 'exit': 'exit' may come before the last of stderr has been
  // read, and the tests read the whole log once the server stopped.
  const exited = once(proc, 'close').then(([code, signal]) => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    return { code, signal };
  });
  const listening = new Promise((resolve, reject) => {
    proc.stdout.on('data', (d) => {
      stdout += d;
      // wsrouterd prints its ws:// and wss:// lines in one write.
      const m = /listening on (ws:\/\/\S+?:(\d+))\//.exec(stdout);
      if (m) resolve({ url: m[1], port: Number(m[2]) });
      else if (/listening on wss:\/\//.test(stdout)) resolve({ url: null, port: null });
    });
    exited.then(({ code }) => reject(new Error(`wsrouterd exited (${code}) before listening:\n${stderr}`)));
  });
  const { url, port } = await withTimeout(listening, 10000, 'wsrouterd to listen');
  return {
    url,
    port,
    proc,
    stderr: () => stderr,
    stdout: () => stdout,
    exited,
    async stop(signal = 'SIGTERM', ms = 15000) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return withTimeout(exited, ms, 'wsrouterd to exit');
    },
  };
}

/** A WebSocket client that queues every message it receives. */
export class Client {
  constructor(ws) {
    this.ws = ws;
    this.queue = [];
    this.waiters = [];
    this.nextId = 1;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    ws.on('message', (data, isBinary) => {
      const msg = { data, isBinary, text: data.toString() };
      const w = this.waiters.shift();
      if (w) w(msg);
      else this.queue.push(msg);
    });
    ws.on('error', () => {}); // surfaced through `closed`
  }

  /** The next message, raw: { data, isBinary, text }. */
  next(ms = 5000) {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    let waiter;
    const got = new Promise((resolve) => { waiter = resolve; this.waiters.push(resolve); });
    // A wait that timed out leaves no waiter behind to swallow a later message.
    return withTimeout(got, ms, 'a message').catch((e) => {
      this.waiters = this.waiters.filter((w) => w !== waiter);
      throw e;
    });
  }

  /** The next message parsed as JSON (decoding base64 when asked). */
  async nextJson(ms = 5000, { base64 = false } = {}) {
    const m = await this.next(ms);
    const text = base64 ? Buffer.from(m.text, 'base64').toString() : m.text;
    return { ...JSON.parse(text), _raw: m };
  }

  send(data, options) {
    this.ws.send(data, options);
  }

  /** Sends `obj` as JSON text and resolves with the parsed reply. */
  async request(obj, ms = 5000) {
    this.send(JSON.stringify(obj));
    return this.nextJson(ms);
  }

  close(code) {
    this.ws.close(code);
    return withTimeout(this.closed, 5000, 'the close');
  }

  terminate() {
    this.ws.terminate();
  }
}

/** Connects to `url`; resolves with a Client once open. Other options (ca,
 * cert, key, servername, origin...) go to ws. */
export async function connect(url, { protocols, maxPayload, ...options } = {}) {
  const ws = new WebSocket(url, protocols, { ...options, maxPayload: maxPayload ?? 256 * 1024 * 1024 });
  const opened = new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
  await withTimeout(opened, 5000, `connect to ${url}`);
  return new Client(ws);
}

/**
 * Runs `fn` with a fresh server, always stopping it; a server that does not
 * exit 0 on SIGTERM fails the test (sanitizer reports and leaks change the
 * exit status).
 */
export async function withServer(args, fn) {
  const srv = await startServer(args);
  let result;
  try {
    result = await fn(srv);
  } catch (e) {
    await srv.stop().catch(() => {});
    throw e;
  }
  const { code, signal } = await srv.stop();
  if (code !== 0) throw new Error(`wsrouterd exited with ${code ?? signal}:\n${srv.stderr()}`);
  return result;
}
