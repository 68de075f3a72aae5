// SPDX-License-Identifier: MIT
// A real nginx from Debian's package for the tests (proxy.test.mjs,
// cluster.test.mjs): its own prefix, configuration, pid and logs in a
// temporary directory (never the system service), started and stopped by pid.
// Its configuration is dist/nginx/wsrouter.conf itself, with only the ports,
// the certificate paths and the chosen variant changed.
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withTimeout, waitFor } from './harness.mjs';

const SRC = process.env.WSR_SOURCE_DIR ?? new URL('../..', import.meta.url).pathname;
export const NGINX = process.env.NGINX ?? (existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx');
const CONF = readFileSync(join(SRC, 'dist', 'nginx', 'wsrouter.conf'), 'utf8');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Replaces `from` (a string or a RegExp) in `text`, failing when it is not there:
 * a documented configuration that drifted from what the test expects fails it. */
function must(text, from, to) {
  const found = typeof from === 'string' ? text.includes(from) : from.test(text);
  assert.ok(found, `dist/nginx/wsrouter.conf no longer holds ${from}`);
  return text.replaceAll(from, to);
}

/**
 * dist/nginx/wsrouter.conf for one variant: the lines tagged with a chosen tag
 * are uncommented, those tagged with another are commented out; then the
 * ports and certificate paths become the test's.
 */
export function nginxConf({ client = 'plain', upstream = 'plain', port, ws, wss, readTimeout, certDir }) {
  const chosen = new Set([`client-${client}`, `upstream-${upstream}`]);
  const tagged = /^(\s*)(#\s*)?(\S.*;.*?)#\s*\[((?:client|upstream)-(?:tls|plain))\]/;
  let seen = 0;
  let text = CONF.split('\n').map((line) => {
    const m = tagged.exec(line);
    if (!m) return line;
    seen++;
    const rest = line.slice(m[1].length + (m[2] ?? '').length);
    return chosen.has(m[4]) ? m[1] + rest : `${m[1]}# ${rest}`;
  }).join('\n');
  assert.ok(seen >= 10, `only ${seen} tagged lines in dist/nginx/wsrouter.conf`);
  text = must(text, /listen 443 ssl;/g, `listen 127.0.0.1:${port} ssl;`);
  text = must(text, /listen 80;/g, `listen 127.0.0.1:${port};`);
  text = must(text, 'server 127.0.0.1:8080;', [ws].flat().map((p) => `server 127.0.0.1:${p};`).join('\n    '));
  text = must(text, 'server 127.0.0.1:8443;', `server 127.0.0.1:${wss ?? 9};`);
  text = must(text, '/etc/ssl/wsrouter/fullchain.pem', join(certDir, 'server.pem'));
  text = must(text, '/etc/ssl/wsrouter/privkey.pem', join(certDir, 'server.key'));
  text = must(text, '/etc/ssl/wsrouter/upstream-ca.pem', join(certDir, 'ca.pem'));
  if (readTimeout) text = must(text, 'proxy_read_timeout 90s;', `proxy_read_timeout ${readTimeout};`);
  return text;
}

/** A port nobody listens on now (nginx binds it right after). */
export async function freePort() {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address();
  s.close();
  await once(s, 'close');
  return port;
}

/** Resolves once 127.0.0.1:port accepts a connection; rejects after `ms`. */
async function waitForPort(port, ms, proc) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error('nginx exited');
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nginx did not listen on ${port} within ${ms} ms`);
    await sleep(20);
  }
}

/**
 * Starts nginx in front of wsrouterd's port `ws` (or several: an upstream of
 * them all; `wss` its wss:// port) in a directory of its own. Returns { url,
 * port, stop() }; stop() ends it by its pid and checks that it exited.
 */
export async function startNginx({ ws, certDir, client = 'plain', upstream = 'plain', wss, readTimeout } = {}) {
  for (let attempt = 0; ; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), 'wsrd-nginx-'));
    chmodSync(dir, 0o755); // nginx's workers may run as another user
    const port = await freePort();
    writeFileSync(join(dir, 'wsrouter.conf'),
      nginxConf({ client, upstream, port, ws, wss, readTimeout, certDir }));
    writeFileSync(join(dir, 'nginx.conf'), [
      'worker_processes 1;',
      `pid ${dir}/nginx.pid;`,
      `error_log ${dir}/error.log info;`,
      'events { worker_connections 256; }',
      'http {',
      `  access_log ${dir}/access.log;`,
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t};`),
      `  include ${dir}/wsrouter.conf;`,
      '}',
      '',
    ].join('\n'));
    const proc = spawn(NGINX, ['-p', dir, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf'),
      '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    proc.stdout.on('data', (d) => { output += d; });
    proc.stderr.on('data', (d) => { output += d; });
    const exited = once(proc, 'exit').then(([code, signal]) => ({ code, signal }));
    proc.on('error', (e) => { output += String(e); });
    const log = () => { try { return readFileSync(join(dir, 'error.log'), 'utf8'); } catch { return ''; } };
    try {
      await waitForPort(port, 5000, proc);
    } catch (e) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await withTimeout(exited, 5000, 'nginx to exit');
      rmSync(dir, { recursive: true, force: true });
      // Someone took the port between freePort and the bind: try another.
      if (attempt < 3 && /Address already in use/.test(output + log())) continue;
      throw new Error(`nginx did not start (${e.message}):\n${output}\n${log()}`);
    }
    // The pid nginx wrote is the process this test started and stops. nginx
    // listens before it writes the file, so the file may still be empty: wait
    // for it (bounded), and on any failure here stop the nginx started above,
    // or it would outlive the test (and keep node from ending).
    const pidFile = join(dir, 'nginx.pid');
    const pidOf = () => { try { return readFileSync(pidFile, 'utf8').trim(); } catch { return ''; } };
    try {
      await waitFor(() => pidOf() !== '', 5000, "nginx's pid file");
      assert.equal(Number(pidOf()), proc.pid, 'the pid nginx wrote is the one started');
    } catch (e) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await withTimeout(exited, 5000, 'nginx to exit');
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    return {
      port,
      url: `${client === 'tls' ? 'wss' : 'ws'}://127.0.0.1:${port}`,
      log,
      async stop() {
        if (proc.exitCode === null && proc.signalCode === null) process.kill(proc.pid, 'SIGTERM');
        let r;
        try {
          r = await withTimeout(exited, 5000, 'nginx to exit');
        } catch (e) {
          process.kill(proc.pid, 'SIGKILL');
          await withTimeout(exited, 5000, 'nginx to die');
          throw e;
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
        assert.equal(r.code, 0, `nginx exited with ${r.code ?? r.signal}:\n${output}`);
      },
    };
  }
}

