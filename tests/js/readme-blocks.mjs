// SPDX-License-Identifier: MIT
// The fenced code blocks of README.md, each with how it is checked. A block may
// be preceded (on the line before it) by a marker that says so:
//   <!-- readme: KIND [ARGUMENT] [(why, in words)] -->
// readme.test.mjs checks every block by its kind, and refuses kinds it does not
// know; the other tests that run blocks (install, npm, dist) find theirs here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** [{ lang, kind, arg, why, text, line }] in README order; kind is null when
 * no marker precedes the block. */
export function readmeBlocks(source) {
  const lines = readFileSync(join(source, 'README.md'), 'utf8').split('\n');
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]);
    if (!open) continue;
    const start = i;
    const body = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]); i++) body.push(lines[i]);
    const marker = start > 0 && /^<!-- readme: (\S+)(?: ([^(]*?))?\s*(?:\((.*)\))?\s*-->$/.exec(lines[start - 1]);
    blocks.push({
      lang: open[1],
      kind: marker ? marker[1] : null,
      arg: marker && marker[2] ? marker[2].trim() : '',
      why: marker && marker[3] ? marker[3] : '',
      text: body.join('\n') + '\n',
      line: start + 1,
    });
  }
  return blocks;
}

/** A transcript's steps: each `$ command` line with the lines printed after it. */
export function transcript(text) {
  const steps = [];
  for (const line of text.replace(/\n$/, '').split('\n')) {
    if (line.startsWith('$ ')) steps.push({ command: line.slice(2).replace(/\s+#.*$/, ''), output: [] });
    else if (steps.length) steps[steps.length - 1].output.push(line);
    else throw new Error(`a transcript begins with "$ ": ${line}`);
  }
  return steps.map((s) => ({ ...s, output: s.output.join('\n') }));
}
