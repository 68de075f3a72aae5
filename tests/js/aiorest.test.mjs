// SPDX-License-Identifier: MIT
// aiorest-ws's example clients, as data (tests/data/aiorest/*.json): each
// request exactly as the example sends it, on one WebSocket connection as the
// example does, against wsrouterd --modules examples; each reply must be the
// one recorded, member for member. The same requests as NDJSON lines on the
// raw TCP port get the same replies.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import { startServer, connect, waitFor, withTimeout } from './harness.mjs';

const DATA = process.env.WSR_TEST_DATA
  ?? new URL('../data', import.meta.url).pathname;
const SUITE = join(DATA, 'aiorest');
const files = readdirSync(SUITE).filter((f) => f.endsWith('.json')).sort();

let srv;
let rawPort;

/** The raw TCP port a server printed on its tcp:// line. */
async function tcpPort(server) {
  await waitFor(() => /tcp:\/\/\S+:\d+\//.test(server.stdout()), 5000, 'the tcp:// line');
  return Number(/tcp:\/\/\S+:(\d+)\//.exec(server.stdout())[1]);
}

before(async () => {
  srv = await startServer(['--modules', 'examples', '--raw-port', '0']);
  rawPort = await tcpPort(srv);
});

after(async () => {
  const { code } = await srv.stop();
  assert.equal(code, 0, srv.stderr());
});

/** One NDJSON connection: request() sends a line and resolves with the
 * next reply line, parsed. */
async function ndjson(port) {
  const sock = net.connect(port, '127.0.0.1');
  let buf = '';
  const waiting = [];
  sock.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0 && waiting.length > 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      waiting.shift()(JSON.parse(line));
    }
  });
  await withTimeout(new Promise((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  }), 5000, 'the raw connection');
  return {
    request: (r) => withTimeout(new Promise((resolve) => {
      waiting.push(resolve);
      sock.write(`${JSON.stringify(r)}\n`);
    }), 10000, `the NDJSON reply to ${JSON.stringify(r)}`),
    close: () => sock.destroy(),
  };
}

const JWT = /^[\w-]+\.[\w-]+\.[\w-]+$/;

/** `expected` with its placeholders ("$jwt": a token, "$int": an integer)
 * replaced by what `actual` holds there when it is one, so that deepEqual
 * reports only the real differences. */
function fill(expected, actual) {
  if (expected === '$jwt') return typeof actual === 'string' && JWT.test(actual) ? actual : expected;
  if (expected === '$int') return Number.isInteger(actual) ? actual : expected;
  if (Array.isArray(expected)) return expected.map((e, i) => fill(e, actual?.[i]));
  if (expected !== null && typeof expected === 'object') {
    return Object.fromEntries(Object.entries(expected).map(([k, v]) => [k, fill(v, actual?.[k])]));
  }
  return expected;
}

/** Plays `exchanges` on `client`: a request's "$token" is the token of the
 * latest reply that gave one (as the auth example's client takes it). */
async function play(client, exchanges, how) {
  let token = null;
  for (const [template, expected] of exchanges) {
    const request = JSON.parse(JSON.stringify(template).replaceAll('"$token"', JSON.stringify(token)));
    const { _raw, ...reply } = await client.request(request);
    assert.deepEqual(reply, fill(expected, reply), `${how}: ${JSON.stringify(request)} -> ${JSON.stringify(reply)}`);
    if (typeof reply.data?.token === 'string') token = reply.data.token;
  }
}

test('the suite has cases', () => {
  assert.ok(files.length >= 5, files.join());
});

for (const file of files) {
  const { example, fresh_server: fresh, exchanges } = JSON.parse(readFileSync(join(SUITE, file), 'utf8'));
  // An example that registers users gets a server (and store) of its own
  // for each run: the second would find them registered.
  const serve = async (fn) => {
    const server = fresh ? await startServer(['--modules', 'examples', '--raw-port', '0']) : srv;
    try {
      await fn(server, fresh ? await tcpPort(server) : rawPort);
    } finally {
      if (fresh) assert.equal((await server.stop()).code, 0, server.stderr());
    }
  };

  test(`${file} (${example}): every reply as recorded`, () => serve(async (server) => {
    const c = await connect(server.url);
    try {
      await play(c, exchanges, 'WebSocket');
    } finally {
      await c.close();
    }
  }));

  test(`${file} (${example}): the same replies as NDJSON lines over raw TCP`, () => serve(async (server, port) => {
    const c = await ndjson(port);
    try {
      await play(c, exchanges, 'NDJSON');
    } finally {
      c.close();
    }
  }));
}
