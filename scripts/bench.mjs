#!/usr/bin/env node
// The benchmarks: build, start a real Kafka broker when KAFKA_BROKERS is unset, run each benchmark
// in its own Node process (`--expose-gc`, path aliases registered), print a table, stop the broker.
//
//   npm run bench                        all of them, on SQLite and Kafka
//   npm run bench -- append engine       only those (names: see BENCHES below)
//   npm run bench -- --stores=sqlite     SQLite only (no broker is started)
//   npm run bench -- --scale=0.2         fewer iterations (a quick smoke run)
//
// Figures go to stdout (the table); progress goes to stderr. See docs/BENCHMARKS.md.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const log = (line) => process.stderr.write(`[bench] ${line}\n`);

/** Run order: cheapest first. */
const BENCHES = [
  { name: 'append', what: 'event log append throughput and latency' },
  { name: 'engine', what: 'engine overhead per agent step (instant model, and HTTP offline model)' },
  { name: 'throughput', what: 'content-pipeline runs per second, many at a time' },
  { name: 'resume', what: 'decision -> run resumed latency' },
  { name: 'paused', what: '10,000 paused runs: memory, restart, resume all' },
  {
    name: 'logstore',
    what: "the SQLite log's stored form: bytes per run, CPU per event to append and to read back",
  },
  { name: 'replay', what: 'a 100,000-event run: verify and replay by streaming, events/s and retained heap' },
  {
    name: 'tools',
    what: 'per-call cost of an HTTP and an MCP tool (stdio, Streamable HTTP) over a built-in one',
  },
  {
    name: 'observability',
    what: 'cost per agent step of metrics and of tracing (on and off)',
  },
  {
    name: 'frontdoor',
    what: 'REST + socket.io against a real server process, beside the same runs in-process; 10,000 paused runs restarted',
  },
  {
    name: 'fanout',
    what: 'run events -> 500 WebSocket clients: one instance, across instances (Kafka), takeover',
  },
];

const args = process.argv.slice(2);
const option = (name) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const names = args.filter((a) => !a.startsWith('--'));
const unknown = names.filter((n) => !BENCHES.some((b) => b.name === n));
if (unknown.length) {
  log(`unknown benchmark(s): ${unknown.join(', ')}; known: ${BENCHES.map((b) => b.name).join(', ')}`);
  process.exit(2);
}
const selected = BENCHES.filter((b) => names.length === 0 || names.includes(b.name));
const storeList = (option('stores') ?? process.env.BENCH_STORES ?? 'sqlite,kafka')
  .split(',')
  .map((s) => s.trim());

log('building (tsc -b)');
const build = spawnSync('npx', ['tsc', '-b', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
// tsc still emits JavaScript on type errors (noEmitOnError is off): go on with a loud warning, since
// an error elsewhere in the tree (a test being edited) says nothing about the benchmarked code.
const buildWarning =
  build.status === 0
    ? ''
    : 'WARNING: tsc -b reported type errors (above); the JavaScript it emitted was benchmarked anyway';
if (buildWarning) log(buildWarning);
const missing = selected.filter((b) => !existsSync(join(root, 'dist', 'scripts', 'bench', `${b.name}.js`)));
if (missing.length) {
  log(`not built: ${missing.map((b) => `dist/scripts/bench/${b.name}.js`).join(', ')}`);
  process.exit(1);
}

const env = { ...process.env, BENCH_STORES: storeList.join(',') };
if (option('scale')) env.BENCH_SCALE = option('scale');

let broker;
if (storeList.includes('kafka') && !process.env.KAFKA_BROKERS) {
  const { startBroker } = await import('./kafka/broker.mjs');
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-kafka-bench-'));
  log('starting a single-node Kafka broker for the benchmarks (KAFKA_BROKERS is unset)');
  broker = await startBroker({ dataDir, log });
  broker.dataDir = dataDir;
  env.KAFKA_BROKERS = broker.brokers;
  log(`Kafka broker ready at ${broker.brokers}`);
}

const stopBroker = async () => {
  if (!broker) return;
  const b = broker;
  broker = undefined;
  await b.stop();
  rmSync(b.dataDir, { recursive: true, force: true });
};
process.on('SIGINT', () => void stopBroker().finally(() => process.exit(130)));

const machine = describeMachine();
const figures = [];
const failures = [];
const started = Date.now();
try {
  for (const bench of selected) {
    const file = join(root, 'dist', 'scripts', 'bench', `${bench.name}.js`);
    log(
      `--- ${bench.name}: ${bench.what} (load average now ${os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')})`,
    );
    const t0 = Date.now();
    const code = await runBench(file, (figure) => figures.push(figure));
    log(
      `--- ${bench.name}: ${code === 0 ? 'done' : `FAILED (exit ${code})`} in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
    if (code !== 0) failures.push(bench.name);
  }
} finally {
  await stopBroker();
}

print();
process.exit(failures.length ? 1 : 0);

function runBench(file, onFigure) {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--require', join(root, 'bin/register-paths.js'), '--expose-gc', '--enable-source-maps', file],
      {
        cwd: root,
        env,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let buffer = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.startsWith('BENCH ')) onFigure(JSON.parse(line.slice(6)));
        else if (line.trim()) process.stderr.write(`${line}\n`);
      }
    });
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  });
}

function describeMachine() {
  const cpu = /model name\s*:\s*(.*)/.exec(safeRead('/proc/cpuinfo'))?.[1] ?? os.cpus()[0]?.model ?? '?';
  const free = spawnSync('free', ['-h'], { encoding: 'utf8' }).stdout?.trim() ?? '';
  const mem = /Mem:\s+(\S+)/.exec(free)?.[1] ?? `${(os.totalmem() / 2 ** 30).toFixed(1)}Gi`;
  const nproc = spawnSync('nproc', { encoding: 'utf8' }).stdout?.trim() || String(os.cpus().length);
  const kafka = !storeList.includes('kafka')
    ? 'not run'
    : broker
      ? `${process.env.PARLEY_KAFKA_VERSION || '4.4.0'} single broker on loopback (started by this script)`
      : `external brokers ${process.env.KAFKA_BROKERS ?? '(KAFKA_BROKERS unset: Kafka figures skipped)'}`;
  return { cpu, nproc, mem, node: process.version, kafka, load: os.loadavg() };
}

function safeRead(file) {
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

function fmt(x) {
  if (typeof x !== 'number') return String(x);
  if (!Number.isFinite(x)) return String(x);
  if (Math.abs(x) >= 100) return x.toFixed(0);
  if (Math.abs(x) >= 10) return x.toFixed(1);
  if (Math.abs(x) >= 1) return x.toFixed(2);
  return x.toFixed(3);
}

function print() {
  const out = [];
  out.push('');
  out.push(
    `Parley benchmarks - ${new Date().toISOString()} - ${((Date.now() - started) / 1000).toFixed(0)} s`,
  );
  out.push(
    `machine: ${machine.cpu}, ${machine.nproc} cores (nproc), ${machine.mem} RAM, Node ${machine.node}, Kafka ${machine.kafka}`,
  );
  out.push(
    `load average at start: ${machine.load.map((x) => x.toFixed(2)).join(' ')}; at end: ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  out.push('');
  const rows = figures.map((f) => [
    f.bench,
    f.store,
    f.name,
    `${fmt(f.value)} ${f.unit}`,
    f.target ? `${f.target} ${f.met === undefined ? '' : f.met ? '(met)' : '(MISSED)'}`.trim() : '',
    Object.entries(f.extra ?? {})
      .map(([k, v]) => `${k}=${fmt(v)}`)
      .join(' '),
  ]);
  const head = ['bench', 'log', 'figure', 'value', 'target', 'details'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) =>
    `| ${cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join(' | ')} |`;
  out.push(line(head));
  out.push(`|${widths.map((w, i) => '-'.repeat(i === widths.length - 1 ? 9 : w + 2)).join('|')}|`);
  for (const r of rows) out.push(line(r));
  if (failures.length) out.push('', `FAILED: ${failures.join(', ')}`);
  if (buildWarning) out.push('', buildWarning);
  console.log(out.join('\n'));
}
