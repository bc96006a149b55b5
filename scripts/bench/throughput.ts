/**
 * 3. Runs per second: content-pipeline runs (3 agent steps, 2 human reviews approved in-process as
 * soon as they open), many at a time through one RunEngine, with the instant in-process model.
 */
import {
  Harness,
  InstantModelGateway,
  cpuMs,
  fixture,
  log,
  now,
  openStore,
  report,
  scaled,
  stores,
  summarize,
  sqliteFullOrKafka,
} from './common';

const INPUT = 'Write an article about event sourcing for small teams, with one concrete example.';

async function main(): Promise<void> {
  const fx = fixture();
  const plan = {
    sqlite: { runs: scaled(1000), concurrency: 50 },
    kafka: { runs: scaled(200), concurrency: 50 },
  };
  try {
    for (const kind of stores().filter(sqliteFullOrKafka)) {
      const opened = await openStore(kind, 'throughput');
      try {
        const harness = new Harness(opened.store, new InstantModelGateway(), fx.tools, { autoApprove: true });
        const run = async (
          total: number,
          concurrency: number,
        ): Promise<{ seconds: number; cpuSeconds: number; durations: number[] }> => {
          let next = 0;
          const durations: number[] = [];
          const worker = async (): Promise<void> => {
            while (next < total) {
              next += 1;
              const r0 = now();
              const { finished } = await harness.start(fx.workflows['content-pipeline'], INPUT);
              await finished;
              durations.push(now() - r0);
            }
          };
          const t0 = now();
          const c0 = cpuMs();
          await Promise.all(Array.from({ length: concurrency }, worker));
          return { seconds: (now() - t0) / 1000, cpuSeconds: (cpuMs() - c0) / 1000, durations };
        };
        const { runs, concurrency } = plan[kind];
        const warmup = Math.max(20, Math.round(runs / 10));
        await run(warmup, concurrency);
        const r = await run(runs, concurrency);
        const d = summarize(r.durations);
        const events = await opened.store.lastPosition();
        report({
          bench: 'throughput',
          name: `content-pipeline runs/s, ${concurrency} at a time`,
          store: kind,
          value: runs / r.seconds,
          unit: 'runs/s',
          extra: {
            runs,
            seconds: r.seconds,
            runsPerCpuSecond: runs / r.cpuSeconds,
            runP50Ms: d.p50,
            runP99Ms: d.p99,
            eventsPerRun: events / (runs + warmup),
          },
        });
        await harness.engine.stop();
      } finally {
        await opened.dispose();
      }
    }
  } finally {
    fx.dispose();
  }
  log('throughput: done');
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
