/**
 * 7 (issue 7). Retention at scale: one run of 100,000 events, verified (hash chain) and replayed
 * (folded to a state) by streaming it from the log, with the retained heap sampled after full
 * collections. Replay of Kafka mode reads the same local SQLite store, so SQLite is what is measured.
 */
import type { NewEvent } from '@parley/contracts';
import { ChainVerifier, WorkflowSchema, upcast } from '@parley/contracts';
import { evolve, type RunState } from '@parley/engine';
import { gc, log, now, openStore, report, scaled } from './common';

function retainedMb(): number {
  gc();
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

async function main(): Promise<void> {
  const total = scaled(100_000);
  const opened = await openStore('sqlite', 'replay');
  const { store } = opened;
  const runId = 'large-run';
  try {
    const workflow = WorkflowSchema.parse({
      name: 'big',
      pattern: 'group-chat',
      participants: ['a', 'b'],
      agents: [
        { name: 'a', system: 'You are a.' },
        { name: 'b', system: 'You are b.' },
      ],
    });
    log(`replay: writing a run of ${total} events`);
    await store.append(runId, 0, [
      {
        type: 'run.started',
        actor: { kind: 'human', id: 'carol' },
        data: { workflow, input: 'go', requestedBy: 'carol' },
      },
    ]);
    let seq = 1;
    while (seq < total) {
      const batch: NewEvent[] = [];
      for (let i = 0; i < 1000 && seq + batch.length < total; i++) {
        batch.push({
          type: 'human-message.posted',
          actor: { kind: 'human', id: 'carol' },
          data: {
            by: { id: 'carol', role: 'participant' },
            text: `message ${seq + batch.length}: a human speaks in a long debate`,
          },
        });
      }
      await store.append(runId, seq, batch);
      seq += batch.length;
    }

    const base = retainedMb();
    let peak = base;
    let t = now();
    const verifier = new ChainVerifier();
    let n = 0;
    for await (const event of store.stream(runId)) {
      verifier.push(event);
      if (++n % 10_000 === 0) peak = Math.max(peak, retainedMb());
    }
    const verdict = verifier.result();
    const verifySeconds = (now() - t) / 1000;
    if (!verdict.ok || verdict.events !== total)
      throw new Error(`verification failed: ${JSON.stringify(verdict)}`);
    report({
      bench: 'replay',
      name: `verify a ${total}-event run (streaming)`,
      store: 'sqlite',
      value: total / verifySeconds,
      unit: 'events/s',
      extra: { seconds: verifySeconds, retainedHeapGrowthMb: peak - base },
    });

    const before = retainedMb();
    peak = before;
    t = now();
    let state: RunState | undefined;
    n = 0;
    for await (const event of store.stream(runId)) {
      state = evolve(state, upcast(event));
      if (++n % 10_000 === 0) peak = Math.max(peak, retainedMb());
    }
    const foldSeconds = (now() - t) / 1000;
    report({
      bench: 'replay',
      name: `replay a ${total}-event run to its head (streaming fold)`,
      store: 'sqlite',
      value: total / foldSeconds,
      unit: 'events/s',
      extra: {
        seconds: foldSeconds,
        retainedHeapGrowthMb: peak - before,
        transcriptEntries: state!.transcript.length,
      },
    });
  } finally {
    await opened.dispose();
  }
  log('replay: done');
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
