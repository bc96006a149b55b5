import { describe, it } from 'node:test';
import { envNumber } from './load-kit';
import { soak } from './soak';

/**
 * The soak (SOAK_MINUTES, default 30): memory stays flat under a steady mix of runs, watchers and
 * decisions. SOAK_RATE (runs/s, default 5) and SOAK_SAMPLE_SECONDS change the load and the sampling.
 */
describe('load: soak', () => {
  const minutes = envNumber('SOAK_MINUTES', 30);
  it(
    `${minutes} minutes of runs, watchers and decisions: every run right, memory flat`,
    { timeout: (minutes + 10) * 60_000 },
    async () => {
      await soak({
        minutes,
        name: 'soak',
        rate: envNumber('SOAK_RATE', 5),
        watchersPerRun: 2,
        sampleEverySeconds: envNumber('SOAK_SAMPLE_SECONDS', Math.max(1, Math.round((minutes * 60) / 180))),
        floorBucketSeconds: 60,
        maxRssMb: envNumber('SOAK_MAX_RSS_MB', 400),
        maxRssOverHeapMbPerHour: envNumber('SOAK_MAX_RSS_OVER_HEAP_MB_PER_HOUR', 30),
        maxHeapKbPerRun: envNumber('SOAK_MAX_HEAP_KB_PER_RUN', 4),
        minWindowMinutes: 5,
      });
    },
  );
});
