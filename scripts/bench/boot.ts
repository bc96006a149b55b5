/**
 * Start-up: how long a new server process takes from launch to `/health` 200, and the CPU it spent
 * (utime + stime from /proc at the moment /health first answers 200).
 *
 *   node dist/scripts/bench/boot.js seed <dir> <runs>
 *     N paused refund-desk runs (every one waits on its approval), seeded in-process with the real
 *     engine and the same workflow and events as over REST; then a real server opens the folder once
 *     and stops cleanly (so the folder holds the signing key and the anchors, as after a restart).
 *   node dist/scripts/bench/boot.js measure <dir|empty> <launches> <tree> [<tree>...]
 *     For each launch and each tree in turn (interleaved: tree A, tree B, tree A, ...), copy <dir> to
 *     a fresh folder (or start on an empty one) and launch `<tree>/bin/server.js` on it; prints one
 *     line per launch and the medians. BOOT_NODE_ARGS (space-separated) go to each server's node,
 *     e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` (the profile is written when it stops, right after
 *     /health answers). BOOT_MODULES=1 also counts the modules each server loaded by then.
 *   node dist/scripts/bench/boot.js resume <dir> <tree> [in flight=64]
 *     A server of <tree> on a copy of <dir> (paused runs), then every open request approved through
 *     REST with that many in flight until every run completed: /health, runs/s, the server's CPU per
 *     run, RSS at ready, peak RSS. BOOT_NODE_ARGS as above (heap flags, say).
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SqliteEventStore } from '@parley/event-store';
import { RunEngine } from '@parley/engine';
import { startOfflineModelServer } from '@parley/model-offline';
import { ParleyClient } from '@parley/client';
import { ParleyProcess, TEST_USERS, procStats } from '@parley/testing';
import { InstantModelGateway, fixture, log, now } from './common';

async function seed(dir: string, runs: number): Promise<void> {
  const fx = fixture();
  const store = new SqliteEventStore({ dataDir: dir, synchronous: 'normal' });
  let paused = 0;
  const failures: string[] = [];
  const engine = new RunEngine({
    store,
    models: new InstantModelGateway(),
    tools: fx.tools,
    onAppended: (events) => {
      for (const e of events) {
        if (e.type === 'human-request.opened') paused++;
        else if (e.type === 'run.completed' || e.type === 'run.failed' || e.type === 'escalation.raised')
          failures.push(`${e.type} ${JSON.stringify(e.data)}`);
      }
    },
    log: (line) => process.stderr.write(`[engine] ${line}\n`),
  });
  const workflow = fx.workflows['refund-desk'];
  const t0 = now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 200 }, async () => {
      while (next < runs) {
        const i = next++;
        await engine.start({
          workflow,
          input: `Please refund $${101 + (i % 400)} for order #M${i}, it arrived broken.`,
          requestedBy: { kind: 'human', id: i % 2 ? 'carol' : 'maya' },
        });
      }
    }),
  );
  while (paused < runs && failures.length === 0) await new Promise((r) => setTimeout(r, 20));
  if (failures.length) throw new Error(`seeding: ${failures.slice(0, 3).join('; ')}`);
  await engine.stop();
  await store.close();
  fx.dispose();
  log(`seeded ${runs} paused runs in ${((now() - t0) / 1000).toFixed(1)} s`);
  // one real server on the folder, stopped cleanly: it signs the heads, writes its key and anchors
  const model = await startOfflineModelServer({ tokenLatencyMs: 0 });
  const server = await ParleyProcess.start({
    dataDir: dir,
    env: { OPENAI_BASE_URL: model.url, OPENAI_API_KEY: 'offline' },
    startTimeoutMs: 120_000,
  });
  const health = await server.client(null).get('/health');
  log(`server on the folder: /health ${JSON.stringify(health).slice(0, 200)}`);
  await new Promise((r) => setTimeout(r, 3000)); // let the signer write its anchors
  await server.stop();
  await model.close();
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolvePort(port));
    });
  });
}

function healthStatus(port: number): Promise<number> {
  return new Promise((resolveStatus) => {
    const req = request({ host: '127.0.0.1', port, path: '/health', timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolveStatus(res.statusCode ?? 0));
    });
    req.on('error', () => resolveStatus(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

interface Launch {
  wallMs: number;
  /** The process: every thread (the main one, the log check's, SQLite's checkpointer, GC helpers). */
  cpuMs: number;
  /** The main thread alone: what stands between launch and /health on an idle machine. */
  mainCpuMs: number;
  modules?: number;
}

const COUNT_MODULES = join(tmpdir(), 'parley-boot-count-modules.js');

interface Started {
  child: ReturnType<typeof spawn>;
  port: number;
  /** ms from spawn to the first /health 200. */
  wallMs: number;
  exited: Promise<void>;
  stop(): Promise<void>;
}

/** A server of `tree` on `dir`, launched and polled until /health answers 200. */
async function startServer(
  tree: string,
  dir: string,
  modelUrl: string,
  nodeArgs: string[],
): Promise<Started> {
  const tokensFile = join(dir, 'test-tokens.json');
  writeFileSync(tokensFile, JSON.stringify(Object.values(TEST_USERS)));
  const port = await freePort();
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    PORT: String(port),
    HOST: '127.0.0.1',
    PARLEY_DATA_DIR: dir,
    PARLEY_WORKFLOWS_DIR: join(tree, 'workflows'),
    PARLEY_EVENT_LOG: 'sqlite',
    PARLEY_LOG_FORMAT: 'json',
    PARLEY_TOKENS_FILE: tokensFile,
    OPENAI_BASE_URL: modelUrl,
    OPENAI_API_KEY: 'offline',
  };
  const t0 = now();
  const child = spawn(process.execPath, [...nodeArgs, join(tree, 'bin', 'server.js')], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const errors: string[] = [];
  child.stderr!.on('data', (c: Buffer) => errors.push(c.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let stopping = false;
  void exited.then(() => {
    if (!stopping) throw new Error(`the server exited:\n${errors.join('')}`);
  });
  for (;;) {
    if ((await healthStatus(port)) === 200) break;
    if (now() - t0 > 120_000) throw new Error(`no /health after 120 s:\n${errors.join('')}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  const wallMs = now() - t0;
  return {
    child,
    port,
    wallMs,
    exited,
    stop: async () => {
      stopping = true;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function launch(tree: string, template: string | undefined, modelUrl: string): Promise<Launch> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-boot-'));
  try {
    if (template) cpSync(template, dir, { recursive: true });
    const nodeArgs = (process.env.BOOT_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const modules = process.env.BOOT_MODULES === '1';
    if (modules) {
      // answers GET /__modules with how many modules are loaded (a preload, in the server's process)
      writeFileSync(
        COUNT_MODULES,
        `const http = require('node:http');
         const emit = http.Server.prototype.emit;
         http.Server.prototype.emit = function (name, req, res) {
           if (name === 'request' && req.url === '/__modules') { res.end(String(Object.keys(require.cache).length)); return true; }
           return emit.apply(this, arguments);
         };`,
      );
      nodeArgs.push('-r', COUNT_MODULES);
    }
    const server = await startServer(tree, dir, modelUrl, nodeArgs);
    const { cpuMs } = procStats(server.child.pid);
    const mainCpuMs = threadCpuMs(server.child.pid!);
    let count: number | undefined;
    if (modules)
      count = await new Promise<number>((r) =>
        request({ host: '127.0.0.1', port: server.port, path: '/__modules' }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => r(Number(text)));
        }).end(),
      );
    await server.stop();
    return { wallMs: server.wallMs, cpuMs, mainCpuMs, modules: count };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Peak and current RSS (VmHWM, VmRSS) of a process, MB. */
function rssMB(pid: number): { peak: number; now: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, 'm').exec(status)?.[1] ?? NaN);
  return { peak: kb('VmHWM') / 1024, now: kb('VmRSS') / 1024 };
}

/**
 * A restart on a copy of `template` (paused runs), then every open request approved through REST
 * with `inFlight` at once (alice and bob in turn) until every run completed: /health, the rate, the
 * server's CPU and its peak RSS. BOOT_NODE_ARGS go to the server's node (e.g. heap flags).
 */
async function resumeAll(template: string, tree: string, inFlight: number): Promise<void> {
  const model = await startOfflineModelServer({ tokenLatencyMs: 0 });
  const dir = mkdtempSync(join(tmpdir(), 'parley-boot-resume-'));
  try {
    cpSync(template, dir, { recursive: true });
    const nodeArgs = (process.env.BOOT_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    const loadBefore = load();
    const server = await startServer(tree, dir, model.url, nodeArgs);
    const pid = server.child.pid!;
    const atReady = rssMB(pid);
    const url = `http://127.0.0.1:${server.port}`;
    const alice = new ParleyClient({ baseUrl: url, token: TEST_USERS.alice.token });
    const bob = alice.as(TEST_USERS.bob.token);
    const open = await alice.allRequests({ limit: 500 });
    const t0 = now();
    const c0 = procStats(pid).cpuMs;
    let next = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < open.length) {
          const i = next++;
          await (i % 2 ? alice : bob).decide(open[i].id, { decision: 'approve' });
        }
      }),
    );
    for (;;) {
      const page = await alice.runsPage({ status: 'completed', limit: 1 });
      if (page.total >= open.length) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const seconds = (now() - t0) / 1000;
    const cpu = procStats(pid).cpuMs - c0;
    const rss = rssMB(pid);
    if (process.env.BOOT_SNAPSHOT_AT_END === '1') {
      // with BOOT_NODE_ARGS=--heapsnapshot-signal=SIGUSR2: a heap snapshot in the bench's folder
      server.child.kill('SIGUSR2');
      await new Promise((r) => setTimeout(r, 15_000));
    }
    await server.stop();
    log(
      `${tree}: /health after ${server.wallMs.toFixed(0)} ms; RSS at ready ${atReady.now.toFixed(0)} MB; ` +
        `${open.length} approved through REST, ${inFlight} in flight: ${(open.length / seconds).toFixed(0)} runs/s, ` +
        `server CPU ${(cpu / open.length).toFixed(2)} ms a run; peak RSS ${rss.peak.toFixed(0)} MB, at the end ${rss.now.toFixed(0)} MB ` +
        `(load ${loadBefore} → ${load()})`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await model.close();
  }
}

/** utime + stime of the main thread (its task id is the pid), from /proc, in ms. */
function threadCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function measure(template: string | undefined, launches: number, trees: string[]): Promise<void> {
  const model = await startOfflineModelServer({ tokenLatencyMs: 0 });
  const results = new Map<string, Launch[]>(trees.map((t) => [t, []]));
  try {
    for (let i = 0; i < launches; i++) {
      for (const tree of trees) {
        const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
        const r = await launch(tree, template, model.url);
        results.get(tree)!.push(r);
        log(
          `${tree}: launch ${i + 1}: wall ${r.wallMs.toFixed(0)} ms, cpu ${r.cpuMs.toFixed(0)} ms (main thread ${r.mainCpuMs.toFixed(0)} ms)${r.modules ? `, ${r.modules} modules` : ''} (load ${load})`,
        );
      }
    }
  } finally {
    await model.close();
  }
  for (const [tree, rs] of results)
    log(
      `${tree}: median of ${rs.length}: wall ${median(rs.map((r) => r.wallMs)).toFixed(0)} ms, cpu ${median(rs.map((r) => r.cpuMs)).toFixed(0)} ms, main thread ${median(rs.map((r) => r.mainCpuMs)).toFixed(0)} ms (load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')})`,
    );
}

async function main(): Promise<void> {
  const [mode, dir, n, ...trees] = process.argv.slice(2);
  if (mode === 'seed' && dir && n) return seed(resolve(dir), Number(n));
  if (mode === 'resume' && dir && n) return resumeAll(resolve(dir), resolve(n), Number(trees[0] ?? 64));
  if (mode === 'measure' && dir && n && trees.length)
    return measure(
      dir === 'empty' ? undefined : resolve(dir),
      Number(n),
      trees.map((t) => resolve(t)),
    );
  process.stderr.write(
    'usage: boot.js seed <dir> <runs> | boot.js measure <dir|empty> <launches> <tree> [<tree>...] | boot.js resume <dir> <tree> [in flight]\n',
  );
  process.exit(2);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
