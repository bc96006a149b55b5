/**
 * 4. Decision -> run resumed: from calling the decision (`engine.write(runId, s => decideOnRequest(...),
 * {drive: true})`, as DecideRequestCommand does) to the next `model-call.started` (content-pipeline review)
 * or `tool-call.started` (refund-desk approval) appended for that run, seen through RunEngine's
 * onAppended hook. The run has stopped and its state was dropped before the decision arrives, so
 * each resume rebuilds the run from its log. Decisions are made one at a time.
 */
import type { RunEvent } from '@parley/contracts';
import {
  Harness,
  InstantModelGateway,
  approve,
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

const CASES = [
  {
    workflow: 'content-pipeline',
    input: 'Write an article about event sourcing for small teams.',
    next: 'model-call.started',
    reviews: 2,
  },
  {
    workflow: 'refund-desk',
    input: 'Please refund $150 for order #A123, it arrived broken.',
    next: 'tool-call.started',
    reviews: 1,
  },
] as const;

/** One-shot waits by key; an event fired before anyone waits for it is kept for the next `wait`. */
class Waiters {
  private readonly map = new Map<string, (event: RunEvent) => void>();
  private readonly early = new Map<string, RunEvent>();
  wait(key: string): Promise<RunEvent> {
    const fired = this.early.get(key);
    if (fired) {
      this.early.delete(key);
      return Promise.resolve(fired);
    }
    return new Promise((resolve) => this.map.set(key, resolve));
  }
  fire(key: string, event: RunEvent): void {
    const w = this.map.get(key);
    if (w) {
      this.map.delete(key);
      w(event);
    } else this.early.set(key, event);
  }
}

async function main(): Promise<void> {
  const fx = fixture();
  const counts = { sqlite: scaled(300), kafka: scaled(60) }; // runs per case
  try {
    for (const kind of stores().filter(sqliteFullOrKafka)) {
      for (const c of CASES) {
        const opened = await openStore(kind, 'resume');
        try {
          const waiters = new Waiters();
          let resumedAt = 0;
          const harness = new Harness(opened.store, new InstantModelGateway(), fx.tools, {
            onAppended: (events) => {
              const t = now();
              for (const e of events) {
                if (e.type === 'human-request.opened') waiters.fire(`opened:${e.runId}`, e);
                if (e.type === c.next) {
                  resumedAt = t;
                  waiters.fire(`next:${e.runId}`, e);
                }
              }
            },
          });
          const latencies: number[] = [];
          const writes: number[] = [];
          const one = async (record: boolean): Promise<void> => {
            const run = await harness.start(fx.workflows[c.workflow], c.input);
            let opened = waiters.wait(`opened:${run.runId}`);
            for (let r = 0; r < c.reviews; r++) {
              const request = (await opened) as Extract<RunEvent, { type: 'human-request.opened' }>;
              await harness.engine.settled(run.runId); // the run waits; the engine dropped its state
              opened = waiters.wait(`opened:${run.runId}`);
              const next = waiters.wait(`next:${run.runId}`);
              const t0 = now();
              await approve(harness.engine, run.runId, request.data.requestId);
              const t1 = now();
              await next;
              if (record) {
                latencies.push(resumedAt - t0);
                writes.push(t1 - t0);
              }
            }
            await run.finished;
          };
          for (let i = 0; i < Math.max(5, counts[kind] / 10); i++) await one(false); // warm-up
          for (let i = 0; i < counts[kind]; i++) await one(true);
          const s = summarize(latencies);
          const w = summarize(writes);
          report({
            bench: 'resume',
            name: `decision -> ${c.next} (${c.workflow})`,
            store: kind,
            value: s.p99,
            unit: 'ms p99',
            ...(kind === 'sqlite' ? { target: '<= 5 ms', met: s.p99 <= 5 } : {}),
            extra: { p50Ms: s.p50, meanMs: s.mean, maxMs: s.max, decisions: s.n, decisionWriteP50Ms: w.p50 },
          });
          await harness.engine.stop();
        } finally {
          await opened.dispose();
        }
      }
    }
  } finally {
    fx.dispose();
  }
  log('resume: done');
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
