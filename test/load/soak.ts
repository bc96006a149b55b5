/**
 * A soak: one real server process under a steady mix for `minutes` (SOAK_MINUTES): runs of the
 * four workflows started at a fixed rate, their human points answered as they open, and every run
 * watched over WebSocket by fresh connections (connect, `run:watch` from seq 0, disconnect when
 * it ends). The server's RSS (/proc) and heap (`/health` memory) are sampled every few seconds.
 *
 * Memory is "flat" when, after a warm-up (the first third of the samples), the floors of RSS and
 * of the heap (the lowest sample of each `floorBucketSeconds`: the bottom of the garbage
 * collector's sawtooth, which is what a leak raises) grow slowly enough. The read model keeps a
 * small summary of every run by design, so the heap's floor may grow with the runs finished, by at
 * most `maxHeapKbPerRun` per run; RSS may grow with it, and by at most `maxRssOverHeapMbPerHour`
 * more (least-squares slopes: RSS floor minus heap floor, the memory outside the JS heap). RSS
 * never exceeds `maxRssMb`. The slopes are judged only over a window of at least
 * `minWindowMinutes` (a short soak only reports them).
 * Every run must also end as planned, and every watcher hold exactly its run's stored log.
 */
import assert from 'node:assert/strict';
import { io, type Socket } from 'socket.io-client';
import type { EventEnvelope } from '@parley/contracts';
import { ParleyProcess, procStats, TEST_USERS } from '@parley/testing';
import { checkRun, Humans, planRun, startRun, type PlannedRun } from './run-mix';
import { linearFit, load1, log, mb, report, round } from './load-kit';

export interface SoakOptions {
  minutes: number;
  name: string;
  /** Runs started per second. */
  rate: number;
  /** WebSocket watchers per run (each a new connection). */
  watchersPerRun: number;
  sampleEverySeconds: number;
  /** The memory rule fits the lowest sample of each bucket of this many seconds. */
  floorBucketSeconds: number;
  maxRssMb: number;
  /** Growth of RSS beyond the heap's (MB/hour). */
  maxRssOverHeapMbPerHour: number;
  maxHeapKbPerRun: number;
  minWindowMinutes: number;
}

interface Sample {
  s: number;
  rssMb: number;
  /** RSS in parts: anonymous (the JS heap, malloc), file pages (code, mmapped files), shared memory. */
  anonMb: number;
  fileMb: number;
  shmemMb: number;
  heapMb: number;
  heapTotalMb: number;
  externalMb: number;
  cpuS: number;
  finished: number;
  inFlight: number;
  sockets: number;
  load1: number;
}

const TERMINAL = new Set(['run.completed', 'run.failed', 'run.cancelled']);

/** A WebSocket watcher of one run: a new connection that records the run's events. */
class Watcher {
  readonly events: EventEnvelope[] = [];
  readonly ended: Promise<void>;
  private end!: () => void;
  constructor(readonly socket: Socket) {
    this.ended = new Promise((resolve) => (this.end = resolve));
    socket.on('run:event', (e: EventEnvelope) => {
      this.events.push(e);
      if (TERMINAL.has(e.type)) this.end();
    });
  }
}

async function openWatcher(url: string, runId: string, k: number): Promise<Watcher> {
  const users = ['victor', 'carol', 'alice'] as const;
  const socket = io(url, {
    auth: { token: TEST_USERS[users[k % users.length]].token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: 30_000,
  });
  const watcher = new Watcher(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  const ack = (await socket.timeout(30_000).emitWithAck('run:watch', { runId, afterSeq: 0 })) as {
    ok: boolean;
  };
  if (!ack.ok) throw new Error(`run:watch: ${JSON.stringify(ack)}`);
  return watcher;
}

export async function soak(o: SoakOptions): Promise<void> {
  assert.ok(o.watchersPerRun >= 1, 'a run is followed by its watchers: at least one');
  const server = await ParleyProcess.start({ env: { OFFLINE_MODEL_TOKEN_LATENCY_MS: '0' } });
  const humans = new Humans(server);
  const samples: Sample[] = [];
  const errors: string[] = [];
  const wrong: string[] = [];
  const inFlight = new Set<Promise<void>>();
  let openSockets = 0;
  let finished = 0;
  let events = 0;
  let deliveries = 0;
  let watchersChecked = 0;
  const durationMs = o.minutes * 60_000;
  const api = server.client('victor');
  const t0 = Date.now();

  const sample = async (): Promise<void> => {
    const proc = procStats(server.child.pid);
    const health = (await api.get('/health')).body as {
      memory?: { heapUsed: number; heapTotal: number; external: number };
    };
    samples.push({
      s: Math.round((Date.now() - t0) / 1000),
      rssMb: mb(proc.rssBytes),
      anonMb: mb(proc.rssAnonBytes),
      fileMb: mb(proc.rssFileBytes),
      shmemMb: mb(proc.rssShmemBytes),
      heapMb: mb(health.memory?.heapUsed ?? NaN),
      heapTotalMb: mb(health.memory?.heapTotal ?? NaN),
      externalMb: mb(health.memory?.external ?? NaN),
      cpuS: round(proc.cpuMs / 1000),
      finished,
      inFlight: inFlight.size,
      sockets: openSockets,
      load1: load1(),
    });
  };

  /** One run: start, watch, decide (Humans), end; then check it against its stored log and the ledger. */
  const lifecycle = async (run: PlannedRun): Promise<void> => {
    const watchers: Watcher[] = [];
    try {
      await startRun(server, run);
      humans.track(run);
      for (let k = 0; k < o.watchersPerRun; k++) {
        openSockets += 1;
        watchers.push(await openWatcher(server.url, run.runId!, run.i + k));
      }
      await Promise.race([
        Promise.all(watchers.map((w) => w.ended)),
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error('did not end within 120 s')), 120_000).unref(),
        ),
      ]);
      const [stored, refunds] = await Promise.all([
        api.get(`/api/runs/${run.runId}/events`).then((r) => r.body.events as EventEnvelope[]),
        api.get(`/api/refunds?runId=${run.runId}`).then((r) => r.body.refunds as { amount: number }[]),
      ]);
      events += stored.length;
      const { problems } = checkRun(run, stored, refunds);
      for (const w of watchers) {
        deliveries += w.events.length;
        watchersChecked += 1;
        const same =
          w.events.length === stored.length &&
          w.events.every((e, i) => e.seq === i + 1 && e.hash === stored[i].hash);
        if (!same)
          problems.push(`a watcher holds ${w.events.map((e) => e.seq).join(',')} of ${stored.length}`);
      }
      if (problems.length) wrong.push(`#${run.i} ${run.kind} ${run.runId}: ${problems.join('; ')}`);
    } catch (error) {
      errors.push(`#${run.i} ${run.kind} ${run.runId ?? ''}: ${String(error)}`);
    } finally {
      for (const w of watchers) {
        w.socket.close();
        openSockets -= 1;
      }
      humans.untrack(run);
      finished += 1;
    }
  };

  const sampler = setInterval(() => {
    sample().catch((error: unknown) => errors.push(`sample: ${String(error)}`));
  }, o.sampleEverySeconds * 1000);
  try {
    await humans.connect();
    await sample();
    const loadBefore = load1();
    log(
      `${o.name}: ${o.minutes} min at ${o.rate} runs/s, ${o.watchersPerRun} watchers each (load ${loadBefore})`,
    );
    let i = 0;
    const gapMs = 1000 / o.rate;
    while (Date.now() - t0 < durationMs) {
      const due = t0 + i * gapMs;
      if (Date.now() < due) await new Promise((r) => setTimeout(r, due - Date.now()));
      if (inFlight.size >= 200) {
        errors.push(
          `more than 200 runs in flight at ${Math.round((Date.now() - t0) / 1000)} s: the server falls behind`,
        );
        break;
      }
      const task = lifecycle(planRun(i++)).finally(() => inFlight.delete(task));
      inFlight.add(task);
      if (i % Math.max(1, Math.round(60 * o.rate)) === 0)
        log(
          `${o.name}: ${Math.round((Date.now() - t0) / 1000)} s, ${finished} runs finished, RSS ${samples.at(-1)?.rssMb} MB`,
        );
    }
    await Promise.all([...inFlight]);
    await humans.settle();
    await sample();
    clearInterval(sampler);

    // the memory rule, on the floor of the garbage collector's sawtooth: the window after the
    // warm-up is cut into buckets of `floorBucketSeconds`; the lowest sample of each (RSS, heap)
    // is what a leak raises, whatever the phase of the GC cycle at the end
    const warm = Math.floor(samples.length / 3);
    const window = samples.slice(warm);
    const windowMinutes = (window.at(-1)!.s - window[0].s) / 60;
    const floors = (key: 'rssMb' | 'heapMb'): Sample[] => {
      const buckets = new Map<number, Sample[]>();
      for (const x of window) {
        const b = Math.floor((x.s - window[0].s) / o.floorBucketSeconds);
        buckets.set(b, [...(buckets.get(b) ?? []), x]);
      }
      // a bucket cut short (the last one) has no floor to speak of: at least half a bucket's samples
      const enough = Math.max(1, Math.floor(o.floorBucketSeconds / o.sampleEverySeconds / 2));
      return [...buckets.values()]
        .filter((bucket) => bucket.length >= enough)
        .map((bucket) => bucket.reduce((low, x) => (x[key] < low[key] ? x : low)));
    };
    const rssFloor = floors('rssMb');
    const heapFloor = floors('heapMb');
    const rssSlope = linearFit(
      rssFloor.map((x) => x.s / 3600),
      rssFloor.map((x) => x.rssMb),
    ).slope;
    const heapSlope = linearFit(
      heapFloor.map((x) => x.s / 3600),
      heapFloor.map((x) => x.heapMb),
    ).slope;
    const heapPerRun = linearFit(
      heapFloor.map((x) => x.finished),
      heapFloor.map((x) => x.heapMb * 1024),
    ).slope;
    const overHeapSlope = rssSlope - Math.max(0, heapSlope);
    const rawRssSlope = linearFit(
      window.map((x) => x.s / 3600),
      window.map((x) => x.rssMb),
    ).slope;
    const maxRss = Math.max(...samples.map((x) => x.rssMb));
    const judged = windowMinutes >= o.minWindowMinutes;
    const wallS = (Date.now() - t0) / 1000;
    const figures = {
      minutes: o.minutes,
      rate: o.rate,
      runs: i,
      finished,
      events,
      watchers: watchersChecked,
      deliveries,
      wrongRuns: wrong.length,
      errors: errors.length,
      decisions: humans.decisions,
      wallS: round(wallS),
      serverCpuShare: round((samples.at(-1)!.cpuS - samples[0].cpuS) / wallS, 2),
      memoryRule: {
        judged,
        windowMinutes: round(windowMinutes),
        floorBuckets: rssFloor.length,
        rssFloorSlopeMbPerHour: round(rssSlope),
        rssSlopeMbPerHourAllSamples: round(rawRssSlope),
        rssOverHeapSlopeMbPerHour: round(overHeapSlope),
        maxRssOverHeapMbPerHour: o.maxRssOverHeapMbPerHour,
        heapFloorSlopeMbPerHour: round(heapSlope),
        heapFloorKbPerFinishedRun: round(heapPerRun, 2),
        maxHeapKbPerRun: o.maxHeapKbPerRun,
        maxRssMb: maxRss,
        maxRssMbAllowed: o.maxRssMb,
      },
      rssMb: {
        start: samples[0].rssMb,
        endOfWarmup: window[0].rssMb,
        end: samples.at(-1)!.rssMb,
        max: maxRss,
      },
      heapMb: { start: samples[0].heapMb, endOfWarmup: window[0].heapMb, end: samples.at(-1)!.heapMb },
      load1m: {
        min: Math.min(...samples.map((x) => x.load1)),
        max: Math.max(...samples.map((x) => x.load1)),
      },
      examples: [...errors, ...wrong].slice(0, 10),
      samples,
    };
    report(o.name, figures);
    printSeries(o.name, samples);
    assert.deepEqual(errors.slice(0, 10), [], `${errors.length} errors`);
    assert.deepEqual(humans.errors.slice(0, 10), [], 'every decision is accepted');
    assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} runs not as planned`);
    assert.ok(
      i >= 0.9 * o.rate * o.minutes * 60,
      `only ${i} runs started at ${o.rate}/s in ${o.minutes} min`,
    );
    assert.equal(finished, i);
    assert.equal(watchersChecked, finished * o.watchersPerRun);
    assert.ok(maxRss <= o.maxRssMb, `RSS reached ${maxRss} MB (at most ${o.maxRssMb})`);
    if (judged) {
      assert.ok(
        overHeapSlope <= o.maxRssOverHeapMbPerHour,
        `the floor of RSS grows by ${round(rssSlope)} MB/h after the warm-up, ${round(overHeapSlope)} MB/h more than the heap's (at most ${o.maxRssOverHeapMbPerHour})`,
      );
      assert.ok(
        heapPerRun <= o.maxHeapKbPerRun,
        `the floor of the heap grows by ${round(heapPerRun, 2)} KB per finished run (at most ${o.maxHeapKbPerRun})`,
      );
    }
  } catch (error) {
    log(
      `${o.name} failed; server output (tail):\n${server.output.join('').split('\n').slice(-40).join('\n')}`,
    );
    throw error;
  } finally {
    clearInterval(sampler);
    humans.close();
    await server.dispose();
  }
}

/** RSS and heap over time, as a table (at most 40 rows). */
function printSeries(name: string, samples: Sample[]): void {
  const step = Math.max(1, Math.ceil(samples.length / 40));
  const rows = samples.filter((_, k) => k % step === 0 || k === samples.length - 1);
  const lines = rows.map(
    (x) =>
      `${String(x.s).padStart(6)} s  RSS ${x.rssMb.toFixed(1).padStart(6)} MB (anon ${x.anonMb.toFixed(1).padStart(6)}, file ${x.fileMb.toFixed(1).padStart(5)}, shm ${x.shmemMb.toFixed(1).padStart(4)})  heap ${x.heapMb.toFixed(1).padStart(5)} / ${x.heapTotalMb.toFixed(1).padStart(5)} MB  ext ${x.externalMb.toFixed(1).padStart(5)}  runs ${String(x.finished).padStart(6)}  in flight ${String(x.inFlight).padStart(3)}  load ${x.load1}`,
  );
  process.stderr.write(`[load] ${name}: memory over time\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
}
