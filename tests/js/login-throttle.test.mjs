// SPDX-License-Identifier: MIT
// The login throttle and the password lane (issue 15 item 1; PROTOCOL.md
// section 9) against the real wsrouterd: failed logins past the free ones
// are answered 429 with retry_after_ms without the password being hashed;
// a right password after the wait logs in; a login flood from many
// connections runs on the lane (a pool of its own) and leaves the workers
// other routes need, so that a counters GET beside it is answered quickly.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WSRD, connect, withServer } from './harness.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function withUser(name, password, fn) {
  const dir = mkdtempSync(join(tmpdir(), 'wsrd-throttle-'));
  const store = join(dir, 'wsrouter.db');
  const r = spawnSync(WSRD, ['user', 'add', name, '--store', store], { input: `${password}\n`, encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 0, r.stderr);
  return fn(store).finally(() => rmSync(dir, { recursive: true, force: true }));
}

const login = (c, username, password) =>
  c.request({ method: 'POST', url: '/auth/login', data: { username, password } }, 30000);

describe('login throttle', () => {
  test('past five failures a login is refused 429 without hashing, then the right password logs in', async () => {
    await withUser('alice', 'correct horse battery', (store) => withServer(['--store', store], async (srv) => {
      const c = await connect(srv.url);
      const hashed = [];
      for (let i = 0; i < 6; i++) {
        const t0 = Date.now();
        const r = await login(c, 'alice', `wrong ${i}`);
        hashed.push(Date.now() - t0);
        assert.equal(r.status, 401, JSON.stringify(r));
      }
      // The sixth failure locked alice and this address out for 250 ms.
      const t0 = Date.now();
      const r = await login(c, 'alice', 'correct horse battery');
      const took = Date.now() - t0;
      assert.equal(r.status, 429, JSON.stringify(r));
      assert.match(r.detail, /too many failed logins for this user or from this address/);
      assert.ok(r.retry_after_ms >= 1 && r.retry_after_ms <= 250, JSON.stringify(r));
      // No PBKDF2 (600,000 iterations) behind that answer.
      const slowest = Math.min(...hashed);
      assert.ok(took < slowest / 2, `the 429 took ${took} ms, a password check ${slowest} ms`);
      // The address is not locked yet: it has 20 free failures (a NAT's
      // users share one); test_throttle.c counts those.
      await sleep(r.retry_after_ms + 50);
      const ok = await login(c, 'alice', 'correct horse battery');
      assert.equal(ok.status, 200, JSON.stringify(ok));
      assert.equal(typeof ok.data.token, 'string');
      await c.close();
    }));
  });

  test('a login flood from many connections does not starve a counters GET', async () => {
    await withUser('alice', 'correct horse battery', (store) => withServer(['--store', store, '--threads', '4'], async (srv) => {
      const good = await connect(srv.url);
      assert.equal((await good.request({ method: 'PUT', url: '/counters/k', args: { value: 1 } })).status, 200);
      const flooders = await Promise.all(Array.from({ length: 40 }, () => connect(srv.url)));
      let stop = false;
      const seen = { 401: 0, 429: 0, 503: 0 };
      let sent = 0;
      const floods = flooders.map(async (c, i) => {
        // Bounded waits: under a sanitizer a password check takes seconds,
        // and the flood's last logins are not waited for.
        for (let n = 0; !stop && n < 1000; n++) {
          let r;
          sent++;
          try {
            r = await c.request({ method: 'POST', url: '/auth/login', data: { username: `user${i}-${n}`, password: 'guess' } }, 2000);
          } catch {
            continue;
          }
          seen[r.status] = (seen[r.status] ?? 0) + 1;
        }
      });
      await sleep(300);
      const waits = [];
      for (let i = 0; i < 10; i++) {
        const t0 = Date.now();
        const r = await good.request({ method: 'GET', url: '/counters/k' }, 10000);
        waits.push(Date.now() - t0);
        assert.equal(r.status, 200, JSON.stringify(r));
        await sleep(100);
      }
      stop = true;
      await Promise.allSettled(floods);
      assert.ok(Math.max(...waits) < 1000, `counters GET waited ${waits.join(', ')} ms during the flood`);
      // Every flooder had a login in flight while the GETs ran (under a
      // sanitizer a password check can take longer than the whole test).
      assert.ok(sent >= flooders.length, `${sent} logins sent`);
      for (const s of Object.keys(seen)) assert.ok(['401', '429', '503'].includes(s), JSON.stringify(seen));
      for (const c of flooders) c.terminate();
      await good.close();
    }));
  });
});
