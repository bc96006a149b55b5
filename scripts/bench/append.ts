/**
 * 1. Event log append throughput: events appended per second, and the latency of one `append`
 * call, on each adapter, with batches of 1 and of 100 events. Many runs; each run's appends are
 * made one after the other (each waits for the previous one, as the engine does for one run).
 * Kafka also gets a concurrent variant: many runs appending at once, one append in flight per run.
 */
import type { NewEvent } from '@parley/contracts';
import type { EventStore } from '@parley/event-store';
import { log, now, openStore, report, scaled, stores, summarize, type StoreKind } from './common';

const CONTENT =
  'Here is the edited article. The draft was tightened, the tone made consistent, and the conclusion ' +
  'moved up so that the reader gets the point in the first paragraph. Two claims were softened because ' +
  'the sources do not support them as written, and the headline now says what the piece is about.';

function event(runId: string, i: number): NewEvent {
  return {
    type: 'model-call.completed',
    actor: { kind: 'agent', id: 'editor' },
    data: {
      callId: `${runId}-c${i}`,
      agent: 'editor',
      purpose: 'stage:1',
      content: CONTENT,
      toolCalls: [],
      attempts: 1,
      usage: { promptTokens: 120, completionTokens: 60 },
    },
  };
}

/** `runs` runs, `appendsPerRun` appends of `batch` events each; `parallel` runs at a time. */
async function measure(
  store: EventStore,
  label: string,
  runs: number,
  appendsPerRun: number,
  batch: number,
  parallel: number,
): Promise<{ events: number; seconds: number; latencies: number[] }> {
  const latencies: number[] = [];
  let next = 0;
  const one = async (r: number): Promise<void> => {
    const runId = `${label}-run-${r}`;
    let seq = 0;
    for (let a = 0; a < appendsPerRun; a++) {
      const events = Array.from({ length: batch }, (_, k) => event(runId, seq + k + 1));
      const t0 = now();
      await store.append(runId, seq, events);
      latencies.push(now() - t0);
      seq += batch;
    }
  };
  const worker = async (): Promise<void> => {
    while (next < runs) await one(next++);
  };
  const t0 = now();
  await Promise.all(Array.from({ length: parallel }, worker));
  return { events: runs * appendsPerRun * batch, seconds: (now() - t0) / 1000, latencies };
}

async function main(): Promise<void> {
  const plan: Record<
    StoreKind,
    Array<{ batch: number; runs: number; appendsPerRun: number; parallel: number }>
  > = {
    sqlite: [
      { batch: 1, runs: scaled(100), appendsPerRun: 50, parallel: 1 }, // 5,000 events
      { batch: 100, runs: scaled(40), appendsPerRun: 5, parallel: 1 }, // 20,000 events
    ],
    'sqlite-normal': [
      { batch: 1, runs: scaled(100), appendsPerRun: 50, parallel: 1 }, // 5,000 events
      { batch: 100, runs: scaled(40), appendsPerRun: 5, parallel: 1 }, // 20,000 events
    ],
    kafka: [
      { batch: 1, runs: scaled(20), appendsPerRun: 50, parallel: 1 }, // 1,000 events
      { batch: 100, runs: scaled(10), appendsPerRun: 5, parallel: 1 }, // 5,000 events
      { batch: 1, runs: scaled(64), appendsPerRun: 25, parallel: 32 }, // 1,600 events, 32 runs at once
    ],
  };
  for (const kind of stores()) {
    const opened = await openStore(kind, 'append');
    try {
      // Warm-up (JIT, SQLite page cache, Kafka connections and partition leaders).
      await measure(opened.store, 'warmup', 5, 10, 1, 1);
      for (const p of plan[kind]) {
        const r = await measure(
          opened.store,
          `b${p.batch}p${p.parallel}`,
          p.runs,
          p.appendsPerRun,
          p.batch,
          p.parallel,
        );
        const lat = summarize(r.latencies);
        const mode = p.parallel > 1 ? `, ${p.parallel} runs concurrently` : '';
        report({
          bench: 'append',
          name: `append throughput, batch ${p.batch}${mode}`,
          store: kind,
          value: r.events / r.seconds,
          unit: 'events/s',
          extra: {
            events: r.events,
            appends: r.latencies.length,
            p50Ms: lat.p50,
            p99Ms: lat.p99,
            maxMs: lat.max,
          },
        });
      }
    } finally {
      await opened.dispose();
    }
  }
  log('append: done');
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
