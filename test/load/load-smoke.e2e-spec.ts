import { describe, it } from 'node:test';
import { reconnectStorm } from './reconnect-storm';
import { runsInFlight } from './runs-in-flight';
import { soak } from './soak';

/** The load tests at small sizes, in `npm test` (the full sizes: `npm run test:load`). */
describe('load (small)', () => {
  it('100 concurrent runs, human points answered as they open, all complete correctly', async () => {
    await runsInFlight({ runs: 100, name: 'runs-in-flight-small', timeoutMs: 60_000 });
  });

  it('100 WebSocket clients, two reconnect storms (drop, server restart): 100% delivery through afterSeq', async () => {
    await reconnectStorm({ clients: 100, debates: 4, processes: 1, name: 'reconnect-storm-small' });
  });

  it('a 30-second soak: every run right, RSS bounded (the slope is judged by the long soak)', async () => {
    await soak({
      minutes: 0.5,
      name: 'soak-small',
      rate: 4,
      watchersPerRun: 2,
      sampleEverySeconds: 1,
      floorBucketSeconds: 5,
      maxRssMb: 400,
      maxRssOverHeapMbPerHour: 30,
      maxHeapKbPerRun: 4,
      minWindowMinutes: 5,
    });
  });
});
