#!/usr/bin/env node
// Summarise a V8 .cpuprofile (from BENCH_PROFILE or BENCH_SERVER_PROFILE): self time by function and
// by package/folder.
//   node scripts/bench/profile-top.mjs <file.cpuprofile> [top=30] [--all] [--no-idle] [--phase=start]
// A `window-<pid>.json` beside a server's profile (`CPU.<date>.<time>.<pid>.….cpuprofile`), or a
// `<name>.window.json` beside `<name>.cpuprofile` (the in-process twin's), both written by the
// front-door bench (the span of its measured one-at-a-time phase), keeps only the samples inside
// that span; `--phase=start|resume|finish` only those of one of its three operations; `--all` keeps
// every sample. `--no-idle` leaves out `(idle)` and `(program)` from
// the total, so the percentages are of the time the process was busy.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

const argv = process.argv.slice(2);
const flags = new Set(argv.filter((a) => a.startsWith('--')));
const [file, topArg] = argv.filter((a) => !a.startsWith('--'));
if (!file) {
  process.stderr.write(
    'usage: node scripts/bench/profile-top.mjs <file.cpuprofile> [top] [--all] [--no-idle]\n',
  );
  process.exit(2);
}
const top = Number(topArg ?? 30);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const pid = /^CPU\.\d+\.\d+\.(\d+)\./.exec(basename(file))?.[1];
const windowFile = pid
  ? join(dirname(file), `window-${pid}.json`)
  : file.replace(/\.cpuprofile$/, '.window.json');
let span =
  !flags.has('--all') && existsSync(windowFile) ? JSON.parse(readFileSync(windowFile, 'utf8')) : null;
const part = [...flags].find((f) => f.startsWith('--phase='))?.slice(8);
if (span && part) {
  if (!span.parts?.[part]) throw new Error(`${windowFile} has no phase ${part}`);
  span = { phase: `${span.phase}: ${part}`, startUs: span.parts[part][0], endUs: span.parts[part][1] };
}
if (span) console.log(`samples of ${span.phase} only (${windowFile}; --all for every sample)`);
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
let at = profile.startTime;
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  const dt = profile.timeDeltas[i] ?? 0;
  at += dt;
  if (span && (at < span.startUs || at > span.endUs)) continue;
  if (flags.has('--no-idle') && ['(idle)', '(program)'].includes(nodes.get(id).callFrame.functionName))
    continue;
  self.set(id, (self.get(id) ?? 0) + dt);
}
if (span && self.size === 0) {
  console.log('no sample inside the window: the clocks differ? (--all for every sample)');
  process.exit(1);
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const where = (url) => {
  if (!url) return '(native)';
  const m = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (m) return m[1];
  const d = url.match(/dist\/((?:libs|apps|scripts)\/[^/]+)/);
  if (d) return d[1];
  if (url.startsWith('node:')) return 'node:internal';
  return url.split('/').slice(-2).join('/');
};
const source = (url) => {
  const d = url.match(/dist\/((?:libs|apps|scripts)\/.+)$/);
  return d ? d[1].replace('/src/', '/') : where(url);
};
const byFn = new Map();
const byPkg = new Map();
for (const [id, us] of self) {
  const n = nodes.get(id);
  const cf = n.callFrame;
  const key = `${cf.functionName || '(anonymous)'}  ${source(cf.url)}:${cf.lineNumber + 1}`;
  byFn.set(key, (byFn.get(key) ?? 0) + us);
  const pkg = cf.url ? where(cf.url) : cf.functionName || '(native)';
  byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + us);
}
const pct = (us) =>
  `${((100 * us) / total).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(6)} ms`;
console.log(`total sampled: ${(total / 1000).toFixed(0)} ms`);
console.log('\nby package / folder (self time):');
for (const [k, v] of [...byPkg].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(v)}  ${k}`);
console.log('\nby function (self time):');
for (const [k, v] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(v)}  ${k}`);
