// SPDX-License-Identifier: MIT
// dist/: the systemd unit, as `cmake --install` writes it, passes
// `systemd-analyze verify` (offline: no systemd needs to run here) with nothing
// to say, is hardened as the README says and scores as exposed "OK" or better
// in `systemd-analyze security --offline`; the man pages render with `man -l`
// without a warning, and document exactly the options each program's --help
// lists.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readmeBlocks } from './readme-blocks.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const SOURCE = process.env.WSR_SOURCE_DIR ?? join(HERE, '..', '..');
const BUILD = process.env.WSR_BUILD_DIR ?? join(SOURCE, 'build');
const WSRD = process.env.WSRD ?? join(BUILD, 'wsrouterd');
const CLI = process.env.WSR_CLI ?? join(BUILD, 'wsrouter-cli');

let dir;
let unit;

function sh(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120000, cwd: dir, ...options });
  if (r.error) throw r.error;
  return r;
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'wsrd-dist-'));
  // Installed as users get it, but without touching the build's manifest.
  const manifest = join(BUILD, 'install_manifest.txt');
  const saved = existsSync(manifest) ? readFileSync(manifest) : null;
  try {
    const r = sh('cmake', ['--install', BUILD, '--prefix', join(dir, 'prefix')]);
    assert.equal(r.status, 0, r.stderr);
  } finally {
    if (saved) writeFileSync(manifest, saved);
    else rmSync(manifest, { force: true });
  }
  unit = join(dir, 'prefix', 'lib', 'systemd', 'system', 'wsrouterd.service');
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('systemd-analyze verify accepts the installed unit, with nothing to say', () => {
  const r = sh('systemd-analyze', ['verify', '--man=no', unit]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.equal((r.stdout + r.stderr).trim(), '', 'no warning');
});

test('systemd-analyze verify works here: a unit with a misspelt key and a missing program is refused', () => {
  const bad = join(dir, 'wsrouterd.service');
  writeFileSync(bad, readFileSync(unit, 'utf8')
    .replace('ProtectSystem=strict', 'ProtectSytem=strict')
    .replace(/^ExecStart=\S+/m, 'ExecStart=/nonexistent/wsrouterd'));
  const r = sh('systemd-analyze', ['verify', '--man=no', bad]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /Unknown key 'ProtectSytem'/);
  assert.match(r.stderr, /\/nonexistent\/wsrouterd is not executable/);
});

test('the unit is hardened: its own user, a state directory, a read-only system, a restart policy', () => {
  const text = readFileSync(unit, 'utf8');
  for (const line of ['DynamicUser=yes', 'StateDirectory=wsrouter', 'ProtectSystem=strict', 'ProtectHome=yes',
    'NoNewPrivileges=yes', 'PrivateTmp=yes', 'PrivateDevices=yes', 'CapabilityBoundingSet=',
    'Restart=on-failure', 'SystemCallFilter=@system-service', 'ExecReload=/bin/kill -HUP $MAINPID']) {
    assert.match(text, new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'), line);
  }
  // systemd's own measure: 10 is "UNSAFE", under 2 is "OK" or better
  // (--threshold counts in tenths).
  const r = sh('systemd-analyze', ['security', '--offline=yes', '--threshold=20', '--no-pager', unit]);
  assert.equal(r.status, 0, r.stdout.split('\n').slice(-3).join('\n') + r.stderr);
  const score = /Overall exposure level for wsrouterd\.service: ([\d.]+)/.exec(r.stdout);
  assert.ok(score && Number(score[1]) < 2, `exposure ${score?.[1]}`);
});

test('the README service block names the unit, and the store the unit gives', () => {
  const service = readmeBlocks(SOURCE).filter((b) => b.kind === 'not-run' && /systemd/.test(b.why));
  assert.equal(service.length, 1);
  assert.match(service[0].text, /systemctl enable --now wsrouterd/);
  assert.match(service[0].text, /--store \/var\/lib\/wsrouter\/wsrouter\.db/);
  assert.match(readFileSync(unit, 'utf8'), /^StateDirectory=wsrouter$/m);
});

/** The rendered page (80 columns) and what man and groff warned about. */
function render(page) {
  const r = sh('man', ['--warnings', '-l', join(SOURCE, 'dist', 'man', page)],
    { env: { ...process.env, MANWIDTH: '80', MAN_KEEP_FORMATTING: '', MANPAGER: 'cat', PAGER: 'cat', LANG: 'C.UTF-8' } });
  assert.equal(r.status, 0, r.stderr);
  return { text: r.stdout.replace(/.\x08/g, ''), warnings: r.stderr };
}

/** The long options (--name) that begin the lines of a list. */
function optionsOf(lines) {
  const out = new Set();
  for (const line of lines) {
    const m = /^\s+(?:-[a-zA-Z](?: \S+)?, )?(--[a-z][a-z0-9-]*)/.exec(line);
    if (m) out.add(m[1]);
  }
  return [...out].sort();
}

for (const [page, prog, section] of [['wsrouterd.8', WSRD, 'WSROUTERD(8)'], ['wsrouter-cli.1', CLI, 'WSROUTER-CLI(1)']]) {
  test(`man -l ${page} renders without a warning, and documents exactly the options of --help`, () => {
    const { text, warnings } = render(page);
    assert.equal(warnings, '', `man/groff warnings for ${page}`);
    assert.ok(text.startsWith(section), text.slice(0, 80));
    for (const s of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'OPTIONS', 'EXIT STATUS', 'SEE ALSO']) {
      assert.match(text, new RegExp(`^${s}$`, 'm'), `${page} has ${s}`);
    }
    const lines = text.split('\n');
    const from = lines.indexOf('OPTIONS');
    const to = lines.findIndex((l, i) => i > from && /^[A-Z][A-Z ]+$/.test(l));
    const documented = optionsOf(lines.slice(from + 1, to));
    const help = sh(prog, ['--help']);
    assert.equal(help.status, 0, help.stderr);
    const listed = optionsOf(help.stdout.split('\n'));
    assert.ok(listed.length > 10, listed.join(' '));
    assert.deepEqual(documented, listed, `${page}'s OPTIONS against ${prog} --help`);
  });
}
