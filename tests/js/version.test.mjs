// SPDX-License-Identifier: MIT
// One version everywhere: include/wsrouter/common.h is its one source
// (WSR_VERSION_MAJOR/MINOR/PATCH); the build takes it from there (the CMake
// project, the soname, pkg-config, the CMake package, the programs'
// --version), and the copies that must be literal (the JS module,
// www/package.json, the man pages, CHANGELOG.md's latest release) must say
// the same. Also: LICENSE is MIT, as every file's SPDX line says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const SOURCE = process.env.WSR_SOURCE_DIR ?? join(HERE, '..', '..');
const BUILD = process.env.WSR_BUILD_DIR ?? join(SOURCE, 'build');
const WSRD = process.env.WSRD ?? join(BUILD, 'wsrouterd');
const CLI = process.env.WSR_CLI ?? join(BUILD, 'wsrouter-cli');

const read = (...p) => readFileSync(join(...p), 'utf8');

/** The version of include/wsrouter/common.h, from its three numbers. */
function headerVersion() {
  const h = read(SOURCE, 'include', 'wsrouter', 'common.h');
  const part = (name) => {
    const m = new RegExp(`^#define WSR_VERSION_${name} +(\\d+)$`, 'm').exec(h);
    assert.ok(m, `common.h defines WSR_VERSION_${name}`);
    return m[1];
  };
  return `${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}`;
}

const VERSION = headerVersion();

test('the version is 0.2.0 (this release)', () => {
  assert.equal(VERSION, '0.2.0');
});

test('the build: CMake project, pkg-config file, CMake package version, soname', () => {
  const cache = read(BUILD, 'CMakeCache.txt');
  assert.match(cache, new RegExp(`^CMAKE_PROJECT_VERSION:STATIC=${VERSION.replace(/\./g, '\\.')}$`, 'm'));
  assert.match(read(BUILD, 'wsrouter.pc'), new RegExp(`^Version: ${VERSION}$`, 'm'));
  assert.match(read(BUILD, 'wsrouterConfigVersion.cmake'), new RegExp(`set\\(PACKAGE_VERSION "${VERSION}"\\)`));
  const [major, minor] = VERSION.split('.');
  const lib = join(BUILD, `libwsrouter.so.${VERSION}`);
  assert.ok(existsSync(lib), `${lib} exists`);
  const r = spawnSync('readelf', ['-d', lib], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`Library soname: \\[libwsrouter\\.so\\.${major}\\.${minor}\\]`));
});

test('wsrouterd --version and wsrouter-cli --version', () => {
  for (const [prog, name] of [[WSRD, 'wsrouterd'], [CLI, 'wsrouter-cli']]) {
    const r = spawnSync(prog, ['--version'], { encoding: 'utf8', timeout: 10000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${name} ${VERSION} (protocol v1)\n`);
    // The usage text names the flag.
    const h = spawnSync(prog, ['--help'], { encoding: 'utf8', timeout: 10000 });
    assert.match(h.stdout, /--version/);
  }
});

test('the JS module, www/package.json, the man pages, CHANGELOG.md', async () => {
  const js = await import(join(SOURCE, 'www', 'wsrouter.js'));
  assert.equal(js.VERSION, VERSION, 'www/wsrouter.js VERSION');
  assert.equal(JSON.parse(read(SOURCE, 'www', 'package.json')).version, VERSION, 'www/package.json');
  for (const page of ['wsrouterd.8', 'wsrouter-cli.1']) {
    const th = /^\.TH .*$/m.exec(read(SOURCE, 'dist', 'man', page));
    assert.ok(th, `${page} has a .TH line`);
    assert.match(th[0], new RegExp(`"wsrouter ${VERSION.replace(/\./g, '\\.')}"`), page);
  }
  // An "Unreleased" section on top collects what is not released yet.
  const release = /^## (?!Unreleased\b)(\S+)/m.exec(read(SOURCE, 'CHANGELOG.md'));
  assert.equal(release?.[1], VERSION, "CHANGELOG.md's first released section is this release");
});

test('LICENSE is the MIT license of the wsrouter authors, as the SPDX lines say', () => {
  const license = read(SOURCE, 'LICENSE');
  assert.match(license, /^MIT License$/m);
  assert.match(license, /^Copyright \(c\) \d{4} the wsrouter authors$/m);
  assert.equal(JSON.parse(read(SOURCE, 'www', 'package.json')).license, 'MIT');
  // Every C source and header names the same license.
  const others = [];
  for (const dir of ['include/wsrouter', 'src/core', 'src/services', 'src/server', 'src/client', 'src/programs', 'routes']) {
    for (const f of readdirSync(join(SOURCE, dir))) {
      const p = join(SOURCE, dir, f);
      if (!/\.[ch]$/.test(f) || !statSync(p).isFile()) continue;
      const first = read(p).split('\n', 1)[0];
      if (first !== '/* SPDX-License-Identifier: MIT */') others.push(`${dir}/${f}: ${first}`);
    }
  }
  assert.deepEqual(others, [], 'files whose first line is not the MIT SPDX line');
});
