/**
 * 5. Many paused runs: create N refund-desk runs that each stop on an approval (a $101..$500 refund:
 * four-eyes approval, below the $500 escalation), through the real RunEngine with the instant model
 * and a live RunsProjection, as the server has them. Then:
 *  - memory per paused run: heap and RSS after `global.gc()`, minus the same before the first run,
 *    divided by N (the engine has dropped the state of every waiting run; the projection holds its
 *    summaries; the log is on disk);
 *  - restart: close everything, open a new store and a new RunsProjection on the same files, and
 *    time until the projection has caught up ("ready"); Kafka: rebuild the local store from the topic
 *    (new localDir), then also reopen with the persisted localDir;
 *  - approve all N (a bounded number of decisions in flight) and time until every run has appended
 *    `run.completed`: resumed runs per second.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunEvent } from '@parley/contracts';
import { KafkaEventStore, SqliteEventStore, type EventStore } from '@parley/event-store';
import { RunEngine } from '@parley/engine';
import { RunsProjection } from '../../apps/server/src/projections/runs.projection';
import {
  EventCounter,
  InstantModelGateway,
  REQUESTER,
  approve,
  cpuMs,
  fixture,
  gc,
  log,
  now,
  openKafka,
  profiled,
  report,
  scaled,
  stores,
  sqliteFullOrKafka,
} from './common';

const IN_FLIGHT = 200; // run starts / decisions in flight at once

interface EngineInternals {
  active: Map<string, unknown>;
  driving: Map<string, unknown>;
  locks: Map<string, unknown>;
}

function memory(): { heap: number; rss: number; external: number } {
  gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss, external: m.external + m.arrayBuffers };
}

async function pool(total: number, inFlight: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, total) }, worker));
}

async function waitUntil(what: string, check: () => boolean, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function bench(kind: 'sqlite' | 'kafka', runs: number): Promise<void> {
  const fx = fixture();
  const dir = mkdtempSync(join(tmpdir(), `parley-bench-paused-${kind}-`));
  const topic = `parley.bench.paused.${process.pid}.${Date.now()}`;
  const open = (localDir: string): Promise<EventStore> =>
    kind === 'sqlite'
      ? Promise.resolve(new SqliteEventStore({ dataDir: localDir }))
      : openKafka(topic, localDir);
  const models = new InstantModelGateway();
  const label = `${runs.toLocaleString('en-US')} paused refund-desk runs`;
  try {
    // ---- create N paused runs
    let store = await open(join(dir, 'store'));
    let projection: RunsProjection | undefined = new RunsProjection(store);
    await projection.start();
    const opened = new EventCounter('human-request.opened');
    const unexpected: RunEvent[] = [];
    let engine = new RunEngine({
      store,
      models,
      tools: fx.tools,
      onAppended: (events) => {
        for (const e of events) {
          opened.feed(e.type);
          if (e.type === 'run.completed' || e.type === 'run.failed' || e.type === 'escalation.raised')
            unexpected.push(e);
        }
      },
      log: (line) => process.stderr.write(`[engine] ${line}\n`),
    });
    const workflow = fx.workflows['refund-desk'];
    const before = memory();
    const t0 = now();
    const c0 = cpuMs();
    await pool(runs, IN_FLIGHT, async (i) => {
      await engine.start({
        workflow,
        input: `Please refund $${101 + (i % 400)} for order #M${i}, it arrived broken.`,
        requestedBy: REQUESTER,
      });
    });
    await opened.reach(runs);
    const internals = engine as unknown as EngineInternals;
    await waitUntil('every driver to stop', () => internals.driving.size === 0);
    const createSeconds = (now() - t0) / 1000;
    const createCpuSeconds = (cpuMs() - c0) / 1000;
    if (unexpected.length)
      throw new Error(
        `runs did not pause as expected: ${unexpected
          .slice(0, 3)
          .map((e) => `${e.type} ${JSON.stringify(e.data)}`)
          .join('; ')}`,
      );
    await projection.caughtUp(await store.lastPosition());
    const events = await store.lastPosition();
    const paused = memory();
    const open0 = projection.listRequests({ status: 'open' }).length;
    if (open0 !== runs) throw new Error(`${open0} open requests, expected ${runs}`);
    report({
      bench: 'paused',
      name: `${label}: created and paused`,
      store: kind,
      value: runs / createSeconds,
      unit: 'runs/s',
      extra: {
        seconds: createSeconds,
        runsPerCpuSecond: runs / createCpuSeconds,
        events,
        engineActive: internals.active.size,
        engineLocks: internals.locks.size,
      },
    });
    report({
      bench: 'paused',
      name: `${label}: heap per paused run`,
      store: kind,
      value: (paused.heap - before.heap) / runs,
      unit: 'bytes',
      target: '<= 2 KB',
      met: (paused.heap - before.heap) / runs <= 2048,
      extra: {
        rssBytesPerRun: (paused.rss - before.rss) / runs,
        externalBytesPerRun: (paused.external - before.external) / runs,
        heapTotalMB: paused.heap / 2 ** 20,
        rssMB: paused.rss / 2 ** 20,
      },
    });

    // ---- restart
    await engine.stop();
    projection.stop();
    projection = undefined; // not counted in the memory measured before the restart
    await store.close();
    const restarts: Array<{ how: string; localDir: string }> =
      kind === 'sqlite'
        ? [{ how: 'reopen the SQLite file', localDir: join(dir, 'store') }]
        : [
            { how: 'rebuild the local store from the topic (new localDir)', localDir: join(dir, 'rebuilt') },
            { how: 'reopen with the persisted localDir', localDir: join(dir, 'store') },
          ];
    for (const [i, restart] of restarts.entries()) {
      const idle = memory();
      const r0 = now();
      store = await open(restart.localDir);
      const storeOpenMs = now() - r0;
      projection = new RunsProjection(store);
      await projection.start();
      const readyMs = now() - r0;
      const open1 = projection.listRequests({ status: 'open' }).length;
      if (open1 !== runs) throw new Error(`after restart: ${open1} open requests, expected ${runs}`);
      const ready = memory();
      report({
        bench: 'paused',
        name: `${label}: restart, projection ready (${restart.how})`,
        store: kind,
        value: readyMs / 1000,
        unit: 's',
        // the target is a restart of an instance (its store persisted); a new instance rebuilding from the topic is shown beside it
        ...(restart.how.includes('new localDir') ? {} : { target: '<= 2 s', met: readyMs <= 2000 }),
        extra: {
          storeOpenMs,
          projectionMs: readyMs - storeOpenMs,
          heapBytesPerRunAfterRestart: (ready.heap - idle.heap) / runs,
        },
      });
      if (i < restarts.length - 1) {
        projection.stop();
        projection = undefined;
        await store.close();
      }
    }

    // ---- approve all
    const completed = new EventCounter('run.completed');
    engine = new RunEngine({
      store,
      models,
      tools: fx.tools,
      onAppended: (events) => {
        for (const e of events) {
          completed.feed(e.type);
          if (e.type === 'run.failed') unexpected.push(e);
        }
      },
      log: (line) => process.stderr.write(`[engine] ${line}\n`),
    });
    const requests = projection!.listRequests({ status: 'open' });
    const a0 = now();
    const ac0 = cpuMs();
    let decidedSeconds = 0;
    await profiled(`paused-approve-${kind}`, async () => {
      await pool(requests.length, IN_FLIGHT, (i) => approve(engine, requests[i].runId, requests[i].id));
      decidedSeconds = (now() - a0) / 1000;
      await completed.reach(runs);
    });
    const resumeSeconds = (now() - a0) / 1000;
    const resumeCpuSeconds = (cpuMs() - ac0) / 1000;
    if (unexpected.length)
      throw new Error(`runs failed after approval: ${JSON.stringify(unexpected[0].data)}`);
    const refunds = fx.ledger.list().length;
    if (refunds !== runs) throw new Error(`${refunds} refunds in the ledger, expected ${runs}`);
    report({
      bench: 'paused',
      name: `${label}: approve all, resumed to run.completed`,
      store: kind,
      value: runs / resumeSeconds,
      unit: 'runs/s',
      target: '>= 1100 runs/s',
      met: runs / resumeSeconds >= 1100,
      extra: {
        seconds: resumeSeconds,
        runsPerCpuSecond: runs / resumeCpuSeconds,
        decisionsRecordedSeconds: decidedSeconds,
        inFlight: IN_FLIGHT,
        events: await store.lastPosition(),
        // Kafka: what this instance's consumer did with its own records read back
        ...(store instanceof KafkaEventStore ? kafkaFigures(store) : {}),
      },
    });
    await engine.stop();
    projection!.stop();
    await store.close();
  } finally {
    fx.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What the Kafka adapter did while resuming: appends per Produce request, own records read back. */
function kafkaFigures(store: KafkaEventStore): Record<string, number> {
  const sent = store.sendStats();
  const read = store.stats();
  return {
    appendsPerSend: sent.appends / Math.max(1, sent.sends),
    recordsPerSend: sent.records / Math.max(1, sent.sends),
    ownRecordsReadBack: read.duplicates,
    recordsAppliedByConsumer: read.eventsApplied,
  };
}

async function main(): Promise<void> {
  const counts = { sqlite: scaled(10_000), kafka: scaled(10_000) };
  for (const kind of stores().filter(sqliteFullOrKafka)) await bench(kind, counts[kind]);
  log('paused: done');
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
