import { describe, it } from 'node:test';
import { assertChaosReport, runRefundChaos } from './refund-chaos';

/**
 * Crash at every step boundary (docs/RELIABILITY.md §1), `npm run test:chaos`: 1,000 seeded
 * refund-desk runs on SQLite, the server SIGKILLed ~150 times at the engine's named crash points and
 * from outside at random times, restarted on the same data each time. A smaller Kafka variant
 * follows. `CHAOS_SEED=<n>` replays a seed; `CHAOS_RUNS=<n>` changes the size.
 */
const seed = Number(process.env.CHAOS_SEED ?? 1000);
const runs = Number(process.env.CHAOS_RUNS ?? 1000);
const print = (line: string): void => console.log(`[chaos] ${line}`);

describe('crash at every step boundary (chaos)', () => {
  it(`${runs} refund-desk runs on SQLite`, async () => {
    const report = await runRefundChaos({
      runs,
      seed,
      kills: Math.ceil(runs / 7),
      timeoutMs: 45 * 60_000,
      log: print,
    });
    assertChaosReport(report);
  });

  it('100 refund-desk runs on Kafka', async () => {
    const brokers = process.env.KAFKA_BROKERS;
    if (!brokers) throw new Error('KAFKA_BROKERS is unset: run through `npm run test:chaos`');
    const prefix = `chaos-${seed}-${process.pid}-${Date.now()}`;
    const report = await runRefundChaos({
      runs: 100,
      seed: seed + 1,
      kills: 12,
      eventLog: 'kafka',
      env: {
        KAFKA_BROKERS: brokers,
        PARLEY_KAFKA_TOPIC_PREFIX: prefix,
        PARLEY_INSTANCE_ID: `${prefix}-a`,
        PARLEY_KAFKA_SESSION_TIMEOUT_MS: '6000',
        PARLEY_KAFKA_HEARTBEAT_MS: '500',
      },
      maxKillDelayMs: 8000,
      timeoutMs: 30 * 60_000,
      log: print,
    });
    assertChaosReport(report);
  });
});
