// SPDX-License-Identifier: MIT
// The JavaScript client as an npm package (www/package.json): `npm pack`
// gives a tarball of the module, its types, its CommonJS stub, README and
// LICENSE (not the demo page); installed offline into an empty project, it
// imports as an ES module and talks to the real wsrouterd; `require()` fails
// with a sentence that says what to do; TypeScript finds its types through
// `exports`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './harness.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const SOURCE = process.env.WSR_SOURCE_DIR ?? join(HERE, '..', '..');
const TESTS = join(HERE, '..');
const VERSION = JSON.parse(readFileSync(join(SOURCE, 'www', 'package.json'), 'utf8')).version;

let dir;
let project;
let tarball;
let srv;

function run(cmd, args, cwd, timeout = 120000) {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, npm_config_cache: join(dir, 'npm-cache') } },
      (err, stdout, stderr) => resolve({ code: err ? (err.code ?? -1) : 0, stdout, stderr }));
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wsrd-npm-'));
  // Packed from a copy of www/ (and the LICENSE its prepack script takes), so
  // the source tree is left as it is.
  cpSync(join(SOURCE, 'www'), join(dir, 'src', 'www'), { recursive: true });
  cpSync(join(SOURCE, 'LICENSE'), join(dir, 'src', 'LICENSE'));
  const packed = await run('npm', ['pack', '--json', '--pack-destination', dir], join(dir, 'src', 'www'));
  assert.equal(packed.code, 0, packed.stderr);
  const [info] = JSON.parse(packed.stdout);
  tarball = { ...info, path: join(dir, info.filename) };
  project = join(dir, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  const installed = await run('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball.path], project);
  assert.equal(installed.code, 0, installed.stderr);
  srv = await startServer();
});

after(async () => {
  if (srv) await srv.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('npm pack: wsrouter-VERSION.tgz with the module, its types, the CommonJS stub, README and LICENSE only', () => {
  assert.equal(tarball.name, 'wsrouter');
  assert.equal(tarball.filename, `wsrouter-${VERSION}.tgz`);
  const files = tarball.files.map((f) => f.path).sort();
  assert.deepEqual(files, ['LICENSE', 'README.md', 'package.json', 'wsrouter.cjs', 'wsrouter.d.ts', 'wsrouter.js']);
  assert.ok(!existsSync(join(dir, 'src', 'www', 'LICENSE')), 'postpack removed the LICENSE copy');
  const pkg = JSON.parse(readFileSync(join(project, 'node_modules', 'wsrouter', 'package.json'), 'utf8'));
  assert.equal(pkg.type, 'module');
  assert.equal(pkg.exports['.'].types, './wsrouter.d.ts');
  assert.equal(Object.keys(pkg.exports['.'])[0], 'types', '"types" comes first, as TypeScript needs');
});

test('installed in an empty project, it imports as an ES module and calls the real server', async () => {
  const ws = join(TESTS, 'node_modules', 'ws', 'wrapper.mjs');
  const code = `
    import { WsRouter, VERSION } from 'wsrouter';
    import WebSocket from ${JSON.stringify(ws)};
    const wsr = await WsRouter.connect(${JSON.stringify(`${srv.url}/`)}, { WebSocket });
    const hello = await wsr.get('/hello/bob/42');
    const sum = await wsr.call('add', { x: 1, y: 2 });
    wsr.close();
    console.log(JSON.stringify({ VERSION, hello, sum }));`;
  const r = await run(process.execPath, ['--input-type=module', '-e', code], project, 30000);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { VERSION, hello: 'Hello, bob with ID=42', sum: 3 });
});

test("require('wsrouter') fails with a sentence that says to import it; import() from CommonJS works", async () => {
  let r = await run(process.execPath, ['-e', "require('wsrouter')"], project);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /wsrouter is an ES module: use `import \{ WsRouter \} from 'wsrouter'`/);
  r = await run(process.execPath, ['-e', "import('wsrouter').then((m) => console.log(m.VERSION, typeof m.WsRouter))"], project);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${VERSION} function\n`);
});

test('TypeScript finds the types through "exports" (node16 resolution), and they are the real ones', async () => {
  const tsc = join(TESTS, 'node_modules', 'typescript', 'bin', 'tsc');
  assert.ok(existsSync(tsc), 'typescript is a devDependency: run npm ci in tests/');
  const common = ['--noEmit', '--strict', '--module', 'node16', '--moduleResolution', 'node16'];
  writeFileSync(join(project, 'good.ts'), `
    import { WsRouter, VERSION, type WsRouterOptions } from 'wsrouter';
    const options: WsRouterOptions = { timeout: 1000 };
    const v: string = VERSION;
    export async function hello(url: string): Promise<unknown> {
      const wsr = await WsRouter.connect(url, options);
      return wsr.get('/hello/bob/42');
    }
    export { v };
  `);
  let r = await run(process.execPath, [tsc, ...common, 'good.ts'], project, 120000);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  // A use the types forbid is refused: the declarations were read, not `any`.
  writeFileSync(join(project, 'bad.ts'), "import { VERSION } from 'wsrouter';\nexport const n: number = VERSION;\n");
  r = await run(process.execPath, [tsc, ...common, 'bad.ts'], project, 120000);
  assert.notEqual(r.code, 0);
  assert.match(r.stdout, /bad\.ts\(2,14\): error TS2322: Type 'string' is not assignable to type 'number'/);
});
