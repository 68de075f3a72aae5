// SPDX-License-Identifier: MIT
// Installing (README "Installing", dist/): `cmake --install` of this build into
// a temporary prefix, then moved elsewhere (every file must still work: the
// pkg-config file and the CMake package find their prefix from where they
// lie); the README's C client built against the moved copy with pkg-config
// and with the README's CMake project, linked to libwsrouter and jansson only,
// run against the real wsrouterd (and silent on stderr: cfg.log_level
// governs libwebsockets too); the CMake package's version rule; the
// uninstall script; `make install` and `make uninstall` themselves; and a
// build without tests that needs neither cmocka nor Node.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync,
  writeFileSync, symlinkSync, statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './harness.mjs';
import { readmeBlocks, transcript } from './readme-blocks.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const SOURCE = process.env.WSR_SOURCE_DIR ?? join(HERE, '..', '..');
const BUILD = process.env.WSR_BUILD_DIR ?? join(SOURCE, 'build');
const EXTRA = (process.env.WSR_EXTRA_CFLAGS ?? '').split(' ').filter(Boolean);
const CC = process.env.CC ?? 'cc';

let dir;
let prefix; // where the build was installed, then moved: nothing there knows the first path
let srv;

function sh(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 300000, ...options });
  if (r.error) throw r.error;
  return r;
}

function ok(r, what) {
  assert.equal(r.status, 0, `${what} failed:\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** cmake --install BUILD --prefix P, leaving the build's own install_manifest.txt
 * (which `make uninstall` reads) as it was. Returns the manifest of this install. */
function install(p) {
  const manifest = join(BUILD, 'install_manifest.txt');
  const saved = existsSync(manifest) ? readFileSync(manifest) : null;
  try {
    ok(sh('cmake', ['--install', BUILD, '--prefix', p]), 'cmake --install');
    return readFileSync(manifest, 'utf8').split('\n').filter(Boolean);
  } finally {
    if (saved) writeFileSync(manifest, saved);
    else rmSync(manifest, { force: true });
  }
}

const blocks = readmeBlocks(SOURCE).filter((b) => b.kind === 'installed');

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wsrd-install-'));
  const first = join(dir, 'first');
  install(first);
  prefix = join(dir, 'moved', 'elsewhere');
  mkdirSync(dirname(prefix));
  renameSync(first, prefix);
  srv = await startServer();
});

after(async () => {
  if (srv) await srv.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the README has the install commands, the pkg-config build and the CMake project', () => {
  assert.deepEqual(blocks.map((b) => b.lang), ['sh', 'sh', 'cmake']);
});

test('cmake --install: programs, library, headers, pkg-config, CMake package, man pages, unit', () => {
  const want = ['bin/wsrouterd', 'bin/wsrouter-cli', 'lib/libwsrouter.so', 'lib/libwsrouter.so.0.2',
    'include/wsrouter/wsrouter.h', 'include/wsrouter/client.h', 'lib/pkgconfig/wsrouter.pc',
    'lib/cmake/wsrouter/wsrouterConfig.cmake', 'lib/cmake/wsrouter/wsrouterConfigVersion.cmake',
    'lib/cmake/wsrouter/wsrouterTargets.cmake', 'share/man/man8/wsrouterd.8', 'share/man/man1/wsrouter-cli.1',
    'lib/systemd/system/wsrouterd.service'];
  for (const f of want) assert.ok(existsSync(join(prefix, f)), `${f} is installed`);
  // No file names the directory it was installed in: it was moved since.
  const first = join(dir, 'first');
  for (const f of ['lib/pkgconfig/wsrouter.pc', 'lib/cmake/wsrouter/wsrouterConfig.cmake',
    'lib/cmake/wsrouter/wsrouterTargets.cmake']) {
    assert.ok(!readFileSync(join(prefix, f), 'utf8').includes(first), `${f} is relocatable`);
  }
  // The unit is written at install time and names the installed program.
  const unit = readFileSync(join(prefix, 'lib/systemd/system/wsrouterd.service'), 'utf8');
  assert.match(unit, new RegExp(`^ExecStart=${first.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/bin/wsrouterd \\$WSROUTERD_OPTS$`, 'm'));
});

test('pkg-config, from the moved prefix, points into it', () => {
  const env = { ...process.env, PKG_CONFIG_PATH: join(prefix, 'lib', 'pkgconfig') };
  const r = ok(sh('pkg-config', ['--cflags', '--libs', 'wsrouter'], { env }), 'pkg-config');
  const flags = r.stdout.trim().split(/\s+/);
  const inc = flags.find((f) => f.startsWith('-I'));
  const lib = flags.find((f) => f.startsWith('-L'));
  assert.ok(inc && existsSync(join(inc.slice(2), 'wsrouter', 'wsrouter.h')), `${inc} holds the headers`);
  assert.ok(lib && existsSync(join(lib.slice(2), 'libwsrouter.so')), `${lib} holds the library`);
  assert.ok(flags.includes('-lwsrouter') && flags.includes('-ljansson'), r.stdout);
  assert.ok(!r.stdout.includes('websockets'), 'no libwebsockets for the program');
  assert.equal(ok(sh('pkg-config', ['--modversion', 'wsrouter'], { env }), 'modversion').stdout, '0.2.0\n');
});

/** What `readelf -d` says a binary needs. */
function needed(bin) {
  const r = ok(sh('readelf', ['-d', bin]), 'readelf');
  return [...r.stdout.matchAll(/\(NEEDED\)\s+Shared library: \[(.*?)\]/g)].map((m) => m[1]);
}

/** Runs the README's C client against the real server: it must print the
 * README's line and nothing on stderr (no libwebsockets notices). */
function runClient(bin, expected) {
  const env = { ...process.env, LD_LIBRARY_PATH: join(prefix, 'lib') };
  const ldd = ok(sh('ldd', [bin], { env }), 'ldd');
  assert.match(ldd.stdout, new RegExp(`libwsrouter\\.so\\.0\\.2 => ${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/lib/libwsrouter\\.so\\.0\\.2`));
  const libs = needed(bin);
  assert.ok(libs.includes('libwsrouter.so.0.2'), libs.join(' '));
  assert.ok(!libs.some((l) => l.startsWith('libwebsockets')), `linked to libwebsockets: ${libs.join(' ')}`);
  const r = sh(bin, [`${srv.url}/`], { env, timeout: 30000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `${expected}\n`);
  assert.equal(r.stderr, '', 'the client prints nothing on stderr at its default log level');
}

test("the README's C client, built with pkg-config as the README says, runs against the server", () => {
  const [, build] = blocks;
  const steps = transcript(build.text);
  assert.equal(steps.length, 2);
  assert.match(steps[0].command, /^cc tests\/data\/readme_client\.c -o readme_client \$\(pkg-config --cflags --libs wsrouter\)$/);
  const work = join(dir, 'pkg-config');
  mkdirSync(join(work, 'tests', 'data'), { recursive: true });
  copyFileSync(join(SOURCE, 'tests', 'data', 'readme_client.c'), join(work, 'tests', 'data', 'readme_client.c'));
  const env = { ...process.env, PKG_CONFIG_PATH: join(prefix, 'lib', 'pkgconfig'), CC, CFLAGS_EXTRA: EXTRA.join(' ') };
  // The command as written, with this build's compiler and sanitizer flags.
  const command = steps[0].command.replace(/^cc /, '"$CC" $CFLAGS_EXTRA ');
  ok(sh('sh', ['-c', command], { cwd: work, env }), steps[0].command);
  assert.equal(steps[1].command, './readme_client');
  runClient(join(work, 'readme_client'), steps[1].output);
});

test("the README's CMake project finds the moved package and builds the client", () => {
  const [, build, cmake] = blocks;
  const work = join(dir, 'cmake');
  mkdirSync(work);
  writeFileSync(join(work, 'CMakeLists.txt'), cmake.text);
  copyFileSync(join(SOURCE, 'tests', 'data', 'readme_client.c'), join(work, 'readme_client.c'));
  const flags = EXTRA.join(' ');
  ok(sh('cmake', ['-S', work, '-B', join(work, 'b'), `-DCMAKE_PREFIX_PATH=${prefix}`, `-DCMAKE_C_COMPILER=${CC}`,
    `-DCMAKE_C_FLAGS=${flags}`, `-DCMAKE_EXE_LINKER_FLAGS=${flags}`]), 'cmake configure');
  ok(sh('cmake', ['--build', join(work, 'b')]), 'cmake --build');
  runClient(join(work, 'b', 'readme_client'), transcript(build.text)[1].output);
});

test('find_package(wsrouter) accepts 0.2.x only (0.x: a minor version may break the API)', () => {
  for (const [version, good] of [['0.2', true], ['0.2.0', true], ['0.1', false], ['0.3', false]]) {
    const work = join(dir, `version-${version}`);
    mkdirSync(work);
    writeFileSync(join(work, 'CMakeLists.txt'),
      `cmake_minimum_required(VERSION 3.18)\nproject(v C)\nfind_package(wsrouter ${version} REQUIRED)\n`);
    const r = sh('cmake', ['-S', work, '-B', join(work, 'b'), `-DCMAKE_PREFIX_PATH=${prefix}`]);
    assert.equal(r.status === 0, good, `find_package(wsrouter ${version}):\n${r.stderr}`);
    if (!good) assert.match(r.stderr, /version: 0\.2\.0/);
  }
});

test('the uninstall script removes every installed file and the directories of wsrouter only', () => {
  const p = join(dir, 'again');
  const manifest = install(p);
  const list = join(dir, 'again-manifest.txt');
  writeFileSync(list, manifest.join('\n') + '\n');
  ok(sh('cmake', ['-P', join(SOURCE, 'dist', 'uninstall.cmake'), list]), 'uninstall');
  for (const f of manifest) assert.ok(!existsSync(f), `${f} removed`);
  assert.ok(!existsSync(join(p, 'include', 'wsrouter')) && !existsSync(join(p, 'lib', 'cmake', 'wsrouter')));
  assert.ok(existsSync(join(p, 'bin')) && existsSync(join(p, 'lib')), 'shared directories stay');
});

// The two commands as the README gives them, on a build directory of their own
// (make install builds as make run does). It does not use the build under
// test, so only the plain pass has it: the sanitizer passes would run the very
// same commands again.
(EXTRA.length > 0 ? () => {} : test)('make install PREFIX=... and make uninstall', () => {
  const [commands] = blocks;
  assert.match(commands.text, /^make install\b/m);
  assert.match(commands.text, /^make uninstall\b/m);
  const p = join(dir, 'make-prefix');
  const build = join(dir, 'make-build');
  const make = (target) => ok(sh('make', ['-C', SOURCE, target, `PREFIX=${p}`, `BUILD=${build}`],
    { env: { ...process.env, MAKEFLAGS: '' }, timeout: 600000 }), `make ${target}`);
  make('install');
  const cache = readFileSync(join(build, 'CMakeCache.txt'), 'utf8');
  assert.match(cache, /^BUILD_TESTING:BOOL=OFF$/m, 'built as make run builds: no tests');
  assert.match(cache, /^WSR_WERROR:BOOL=OFF$/m, 'and without -Werror');
  const manifest = readFileSync(join(build, 'install_manifest.txt'), 'utf8').split('\n').filter(Boolean);
  assert.ok(manifest.length > 20 && manifest.every((f) => f.startsWith(`${p}/`) && existsSync(f)));
  make('uninstall');
  assert.deepEqual(manifest.filter((f) => existsSync(f)), [], 'make uninstall removed everything');
});

test('a build without tests (BUILD_TESTING=OFF, as make run configures) needs neither cmocka nor Node', () => {
  // A pkg-config path with every package of this machine but cmocka.
  const pc = join(dir, 'pc-without-cmocka');
  mkdirSync(pc);
  const paths = ok(sh('pkg-config', ['--variable', 'pc_path', 'pkg-config']), 'pc_path').stdout.trim().split(':');
  for (const d of paths) {
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d)) {
      if (f.endsWith('.pc') && !f.startsWith('cmocka') && !existsSync(join(pc, f))) symlinkSync(join(d, f), join(pc, f));
    }
  }
  const env = { ...process.env, PKG_CONFIG_LIBDIR: pc, PKG_CONFIG_PATH: '' };
  const off = join(dir, 'no-tests');
  const r = sh('cmake', ['-S', SOURCE, '-B', off, '-DBUILD_TESTING=OFF'], { env });
  assert.equal(r.status, 0, r.stderr);
  const cache = readFileSync(join(off, 'CMakeCache.txt'), 'utf8');
  assert.ok(!/^NODE:FILEPATH=/m.test(cache), 'Node is not looked for');
  assert.ok(!/CMOCKA/.test(cache), 'cmocka is not looked for');
  assert.match(cache, /^WSR_WERROR:BOOL=OFF$/m, '-Werror is off unless asked for');
  assert.ok(statSync(join(off, 'Makefile')).isFile());
  // The same without cmocka, but with the tests: refused, naming cmocka.
  const on = sh('cmake', ['-S', SOURCE, '-B', join(dir, 'with-tests'), '-DBUILD_TESTING=ON'], { env });
  assert.notEqual(on.status, 0);
  assert.match(on.stdout + on.stderr, /cmocka/);
});
