// SPDX-License-Identifier: MIT
// Every code block of README.md is run or checked, so the README cannot drift
// from the programs. A block's kind comes from the marker on the line before
// it (`<!-- readme: KIND ... -->`, tests/js/readme-blocks.mjs) or, without one,
// from its language:
//   sh, "$ " lines   a transcript: each command runs, its output must be the lines under it
//   sh               a script: it runs and must exit 0; trailing "# " lines are its output
//   js               pasted in the browser console of the server's own page (Chromium)
//   c                compiled by tests/readme-c-examples (ctest readme_c_examples)
//   module           a module script on the server's page (Chromium)
//   session          piped into wsrouter-cli line by line
//   layout           every path of its first column exists
//   quote FILE       the block is a part of FILE, word for word
//   flags            not runnable here (the marker says why): its flags and keys must exist
//   first-steps, first-request   run by tests/fresh-root on a fresh Debian root (the
//                    first request also here); ci: `make test`, run by .ci/run
//   installed, npm   run by tests/js/install.test.mjs, tests/js/npm.test.mjs
//   not-run          cannot run here (the marker says why, and which test checks it)
// A block of any other kind, or of a language with no default, fails the test.
//
// The server is the one `make run` starts (the example modules, www/, TLS with
// certs/, the default store under a HOME of its own), on free ports. The
// commands run as written in a directory that looks like the checkout (its
// entries linked, build/ being this build), with these rewrites only:
// ws://127.0.0.1:8080/ and wss://localhost:8443/ name the test's ports, so
// does port 7272 (raw TCP) wherever it appears,
// wsrouter-cli without -u gets -u ws://127.0.0.1:PORT/, ./readme_client gets
// the URL as its argument, cc is this build's compiler with its sanitizer
// flags, and standard input holds alice's password.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { WSRD, startServer, waitFor, withTimeout } from './harness.mjs';
import { readmeBlocks, transcript } from './readme-blocks.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const SOURCE = process.env.WSR_SOURCE_DIR ?? join(HERE, '..', '..');
const BUILD = process.env.WSR_BUILD_DIR ?? join(SOURCE, 'build');
const CLI = process.env.WSR_CLI ?? join(BUILD, 'wsrouter-cli');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const PASSWORD = 'correct horse';

const BLOCKS = readmeBlocks(SOURCE);
let dir;
let checkout; // looks like the checkout: links to its entries, build/ -> this build
let env;
let srv; // { proc, port, tlsPort, url, stop }
let browser;

/** Starts wsrouterd as `make run` does, with the default store under $HOME. */
async function startLikeMakeRun() {
  const args = ['--port', '0', '--modules', 'examples', '--tls-port', '0',
    '--tls-cert', join(SOURCE, 'certs', 'server.pem'), '--tls-key', join(SOURCE, 'certs', 'server.key'),
    '--www', join(SOURCE, 'www'), '--raw-port', '0', '--set', 'history_size=100'];
  const proc = spawn(WSRD, args, { cwd: checkout, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stderr.on('data', (d) => { err += d; });
  const exited = once(proc, 'close'); // close: its output read to the end
  const ready = new Promise((resolve, reject) => {
    proc.stdout.on('data', (d) => {
      out += d;
      const ws = /listening on ws:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
      const wss = /listening on wss:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
      const raw = /listening on tcp:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
      if (ws && wss && raw) resolve({ port: Number(ws[1]), tlsPort: Number(wss[1]), rawPort: Number(raw[1]) });
    });
    exited.then(([code]) => reject(new Error(`wsrouterd exited (${code}):\n${err}`)));
  });
  const { port, tlsPort, rawPort } = await withTimeout(ready, 10000, 'wsrouterd to listen');
  return {
    proc, port, tlsPort, rawPort, url: `ws://127.0.0.1:${port}/`, stderr: () => err,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const [code] = await withTimeout(exited, 15000, 'wsrouterd to exit');
      return code;
    },
  };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wsrd-readme-'));
  checkout = join(dir, 'checkout');
  mkdirSync(checkout);
  for (const entry of readdirSync(SOURCE)) {
    if (!/^build/.test(entry)) symlinkSync(join(SOURCE, entry), join(checkout, entry));
  }
  symlinkSync(BUILD, join(checkout, 'build'));
  const home = join(dir, 'home');
  mkdirSync(home);
  env = { ...process.env, HOME: home, CC: process.env.CC ?? 'cc', WSR_EXTRA_CFLAGS: process.env.WSR_EXTRA_CFLAGS ?? '' };
  delete env.XDG_STATE_HOME;
  delete env.STATE_DIRECTORY;
  // The certificates make run makes (certs/mkcerts.sh keeps existing ones).
  const certs = spawnSync(join(SOURCE, 'certs', 'mkcerts.sh'), [], { encoding: 'utf8' });
  assert.equal(certs.status, 0, certs.stderr);
  srv = await startLikeMakeRun();
});

after(async () => {
  const steps = [
    () => browser && withTimeout(browser.close(), 15000, 'Chromium to close'),
    async () => { if (srv) assert.equal(await srv.stop(), 0, srv.stderr()); },
    () => dir && rmSync(dir, { recursive: true, force: true }),
  ];
  for (const step of steps) {
    try {
      await step();
    } catch (e) {
      console.error('cleanup:', e.message);
    }
  }
});

/** The rewrites of the header, for a command line or a script. */
function rewrite(text) {
  return text
    .replace(/ws:\/\/127\.0\.0\.1:8080\//g, srv.url)
    .replace(/wss:\/\/(localhost|127\.0\.0\.1):8443\//g, (_m, host) => `wss://${host}:${srv.tlsPort}/`)
    .replace(/\b7272\b/g, () => String(srv.rawPort))
    .split('\n')
    .map((line) => {
      if (/wsrouter-cli\b/.test(line) && !/\s(-u|--url)\s/.test(line)) {
        line = line.replace(/(\S*wsrouter-cli)\b/, `$1 -u ${srv.url}`);
      }
      line = line.replace(/^\.\/readme_client$/, `./readme_client ${srv.url}`);
      return line.replace(/^cc /, '"$CC" $WSR_EXTRA_CFLAGS ');
    })
    .join('\n');
}

/** Runs bash with `script` in the checkout; stdout and stderr in one stream. */
function bash(script, { input = `${PASSWORD}\n`, timeout = 60000 } = {}) {
  const r = spawnSync('bash', ['-c', `exec 2>&1\n${script}`], { cwd: checkout, env, input, encoding: 'utf8', timeout });
  // A command that never reads stdin (redis-cli with its command as
  // arguments) may exit before the password is written: that EPIPE is not a
  // failure; its status and output still count.
  if (r.error && !(r.error.code === 'EPIPE' && r.status !== null)) throw r.error;
  return { code: r.status, output: r.stdout };
}

/** Ids the client draws at random. */
const normalize = (s) => s.replace(/wsr-[0-9a-f]{8}-\d+/g, 'wsr-ID').replace(/\n+$/, '');

/** alice (with the admin role) exists for the blocks that log her in, and does
 * not for the one that adds her. */
function prepareUsers(block) {
  if (!/alice/.test(block.text)) return;
  const list = spawnSync(WSRD, ['user', 'list'], { env, encoding: 'utf8', timeout: 30000 }).stdout ?? '';
  const present = /^alice\t/m.test(list);
  if (/user add alice/.test(block.text) && present) {
    assert.equal(spawnSync(WSRD, ['user', 'remove', 'alice'], { env, timeout: 30000 }).status, 0);
  } else if (!/user add alice/.test(block.text) && !present) {
    const r = spawnSync(WSRD, ['user', 'add', 'alice', '--role', 'admin'], { env, input: `${PASSWORD}\n`, encoding: 'utf8', timeout: 30000 });
    assert.equal(r.status, 0, r.stderr);
  }
}

function runTranscript(block) {
  for (const step of transcript(block.text)) {
    const r = bash(rewrite(step.command));
    assert.equal(normalize(r.output), normalize(step.output), `README.md:${block.line}: $ ${step.command}`);
  }
}

/** A script's output is its trailing "# " lines, joined (JSON is compared as JSON). */
function runScript(block) {
  const lines = block.text.replace(/\n$/, '').split('\n');
  let n = lines.length;
  while (n > 0 && /^#( |$)/.test(lines[n - 1])) n--;
  const script = lines.slice(0, n).join('\n');
  const expected = lines.slice(n).map((l) => l.replace(/^#\s*/, '')).join('');
  const r = bash(`set -e\n${rewrite(script)}`);
  assert.equal(r.code, 0, `README.md:${block.line} failed:\n${r.output}`);
  if (!expected) return;
  let want;
  let got;
  try {
    want = JSON.parse(expected);
    got = JSON.parse(r.output);
  } catch {
    assert.equal(normalize(r.output).replace(/\n/g, ''), expected, `README.md:${block.line}`);
    return;
  }
  assert.deepEqual(got, want, `README.md:${block.line}: the output its comment shows`);
}

async function newPage(problems) {
  if (!browser) {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
    browser = await withTimeout(chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 20000 }),
      30000, 'Chromium to start');
  }
  const page = await browser.newPage();
  page.setDefaultTimeout(10000);
  const logged = [];
  page.on('console', async (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    else logged.push({ text: m.text(), args: await Promise.all(m.args().map((a) => a.jsonValue().catch(() => null))) });
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  // The server's own page, as the README says (not a page of elsewhere).
  await page.goto(`http://127.0.0.1:${srv.port}/`);
  return { page, logged };
}

/** An expected console line of a `// ...` comment: "..." stands for anything,
 * and long numbers (times) for any number. */
function pattern(comment) {
  const esc = comment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${esc.replace(/\\\.\\\.\\\./g, '.*').replace(/\d{6,}/g, '\\d+')}$`);
}

async function runConsole(block) {
  const lines = block.text.replace(/\n$/, '').split('\n');
  let n = lines.length;
  while (n > 0 && lines[n - 1].startsWith('// ')) n--;
  const code = rewrite(lines.slice(0, n).join('\n'));
  const expected = lines.slice(n).map((l) => pattern(l.slice(3)));
  const sends = (code.match(/\.send\(/g) ?? []).length;
  const problems = [];
  const { page, logged } = await newPage(problems);
  try {
    await page.evaluate(code);
    // Every request answered, then the lines the comment shows, in order.
    await waitFor(() => logged.length >= sends || problems.length > 0, 10000, `README.md:${block.line}: ${sends} replies`);
    assert.deepEqual(problems, []);
    let i = 0;
    for (const m of logged) if (i < expected.length && expected[i].test(m.text)) i++;
    assert.equal(i, expected.length, `README.md:${block.line}: logged\n${logged.map((m) => m.text).join('\n')}`);
    // And none of the replies is an error: the snippet works as a whole.
    for (const m of logged) {
      let reply = null;
      try { reply = JSON.parse(m.text); } catch { /* not a reply */ }
      assert.ok(!(reply && reply.status >= 400), `README.md:${block.line}: a reply is an error: ${m.text}`);
    }
  } finally {
    await page.close();
  }
}

/** A module script on the server's page; its `console.log(...) // a b c` lines
 * must log those values ('text ...' a prefix of a string). */
async function runModule(block) {
  const checks = [];
  for (const line of block.text.split('\n')) {
    const m = /^\s*console\.log\(.*\);?\s*\/\/ (.*)$/.exec(line);
    if (m) checks.push(m[1]);
  }
  const problems = [];
  const { page, logged } = await newPage(problems);
  try {
    await page.addScriptTag({ type: 'module', content: `${rewrite(block.text)}\nwindow.readmeDone = true;\n` });
    await waitFor(() => problems.length > 0 || logged.length >= checks.length, 10000, 'the module to run');
    await page.waitForFunction('window.readmeDone === true');
    assert.deepEqual(problems, []);
    for (const check of checks) {
      const want = check.match(/'[^']*'|\[[^\]]*\]|\S+/g).map((t) => (t.startsWith("'") ? t.slice(1, -1)
        : t.startsWith('[') ? JSON.parse(t.replace(/'/g, '"')) : Number(t)));
      const found = logged.some(({ args }) => args.length === want.length && want.every((w, i) =>
        (typeof w === 'string' && w.endsWith('...') ? typeof args[i] === 'string' && args[i].startsWith(w.slice(0, -3))
          : JSON.stringify(args[i]) === JSON.stringify(w))));
      assert.ok(found, `README.md:${block.line}: nothing logged ${check}; logged ${JSON.stringify(logged.map((l) => l.args))}`);
    }
  } finally {
    await page.close();
  }
}

/** Topic epochs are drawn at random: any stands for any (same length). */
const epochs = (s) => s.replace(/"epoch":"[0-9a-f]{12}"/g, '"epoch":"############"');

/** Feeds the session to wsrouter-cli line by line, on a fresh store. */
async function runSession(block) {
  const s = await startServer(['--modules', 'examples']);
  const child = spawn(CLI, ['-u', `${s.url}/`], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const exited = once(child, 'exit');
  try {
    const steps = [];
    for (const line of block.text.replace(/\n$/, '').split('\n')) {
      if (line.startsWith('wsrouter> ')) steps.push({ input: line.slice(10), output: [] });
      else steps[steps.length - 1].output.push(line);
    }
    let want = '';
    for (const step of steps) {
      child.stdin.write(`${step.input}\n`);
      for (const line of step.output) {
        if (line.startsWith('[publish ')) {
          // "appeared when another client incremented b"
          const other = spawnSync(CLI, ['-u', `${s.url}/`, 'call', 'increment', 'key=b'], { encoding: 'utf8', timeout: 10000 });
          assert.equal(other.status, 0, other.stderr);
        }
        want += `${line}\n`;
        await waitFor(() => out.length >= want.length, 10000, `README.md:${block.line}: "${line}" after "${step.input}"`);
        assert.equal(epochs(out.slice(0, want.length)), epochs(want), `README.md:${block.line}: after "${step.input}"`);
      }
    }
    const [code] = await withTimeout(exited, 10000, 'wsrouter-cli to quit');
    assert.equal(code, 0);
    assert.equal(epochs(out), epochs(want));
  } finally {
    if (child.exitCode === null) child.kill();
    assert.equal((await s.stop()).code, 0);
  }
}

function checkLayout(block) {
  const missing = [];
  for (const line of block.text.split('\n')) {
    const m = /^(\S+)\s/.exec(line);
    if (m && !existsSync(join(SOURCE, m[1]))) missing.push(m[1]);
  }
  assert.deepEqual(missing, [], `README.md:${block.line}: paths of the layout that do not exist`);
}

function checkFlags(block) {
  assert.ok(block.why, `README.md:${block.line}: a flags block says why it cannot run`);
  const help = spawnSync(WSRD, ['--help'], { encoding: 'utf8' }).stdout;
  const config = readFileSync(join(SOURCE, 'src', 'server', 'config.c'), 'utf8');
  const text = block.text.replace(/\\\n/g, ' ');
  let checked = 0;
  for (const line of text.split('\n')) {
    const at = line.search(/\bwsrouterd\b/);
    if (at < 0 || /pidof wsrouterd/.test(line.slice(at - 6))) continue;
    for (const [, flag] of line.slice(at).matchAll(/\s(--[a-z][a-z0-9-]*)/g)) {
      assert.ok(help.includes(flag), `README.md:${block.line}: wsrouterd has no ${flag}`);
      checked++;
    }
    for (const [, key] of line.slice(at).matchAll(/--set ([a-z_]+)=/g)) {
      assert.ok(config.includes(`"${key}"`), `README.md:${block.line}: no configuration key ${key}`);
    }
  }
  assert.ok(checked > 0, `README.md:${block.line}: no wsrouterd flags to check`);
}

function checkFreshRoot(block) {
  const script = readFileSync(join(SOURCE, 'tests', 'fresh-root'), 'utf8');
  assert.match(script, new RegExp(`readme_block ${block.kind}`), `tests/fresh-root runs the ${block.kind} block`);
  if (block.kind === 'first-steps') {
    assert.match(block.text, /^apt-get update && apt-get install -y (?=.*\bgit\b)(?=.*\bmake\b)/m);
    assert.match(block.text, /^git clone \S+ wsrouter && cd wsrouter$/m);
    assert.match(block.text, /^make run\b/m);
  }
}

const KINDS = {
  'first-steps': checkFreshRoot,
  'first-request': (b) => { checkFreshRoot(b); runTranscript(b); },
  ci: (b) => {
    assert.match(b.text, /^make test\b/m);
    const ci = readFileSync(join(SOURCE, '.ci', 'run'), 'utf8');
    assert.match(ci, /^make test$/m);
    assert.match(ci, /tests\/fresh-root/);
  },
  quote: (b) => {
    const file = b.arg.split(/\s/)[0];
    assert.ok(readFileSync(join(SOURCE, file), 'utf8').includes(b.text), `README.md:${b.line} is not a part of ${file}`);
  },
  flags: checkFlags,
  layout: checkLayout,
  session: runSession,
  module: runModule,
  installed: (b) => assert.match(b.why, /tests\/js\/install\.test\.mjs/),
  npm: (b) => assert.match(b.why, /tests\/js\/npm\.test\.mjs/),
  'not-run': (b) => assert.ok(b.why.length > 10, `README.md:${b.line}: not-run needs a reason`),
};

function kindOf(block) {
  if (block.kind) return block.kind;
  if (block.lang === 'sh') return block.text.startsWith('$ ') ? 'transcript' : 'script';
  if (block.lang === 'js') return 'console';
  if (block.lang === 'c') return 'c';
  if (block.lang === 'json') return 'json';
  return `(a ${block.lang || 'plain'} block without a marker)`;
}

const RUN = {
  ...KINDS,
  transcript: runTranscript,
  script: runScript,
  console: runConsole,
  c: () => {
    const cmake = readFileSync(join(SOURCE, 'tests', 'CMakeLists.txt'), 'utf8');
    assert.match(cmake, /add_test\(NAME readme_c_examples /, 'C blocks are compiled by readme_c_examples');
  },
  json: (b) => JSON.parse(b.text),
};

test('README.md has code blocks, and each of them is of a kind this test knows', () => {
  assert.ok(BLOCKS.length > 20, `${BLOCKS.length} blocks`);
  const unknown = BLOCKS.filter((b) => !RUN[kindOf(b)]).map((b) => `README.md:${b.line}: ${kindOf(b)}`);
  assert.deepEqual(unknown, []);
});

for (const block of BLOCKS) {
  const kind = kindOf(block);
  if (!RUN[kind]) continue;
  const first = block.text.split('\n', 1)[0].slice(0, 50);
  test(`README.md:${block.line} (${kind}): ${first}`, async () => {
    prepareUsers(block);
    await RUN[kind](block);
  });
}
