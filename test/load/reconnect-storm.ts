/**
 * N WebSocket clients (real socket.io-client, WebSocket transport, in child processes) watch D
 * debates from their first event while the debates run. Twice, every connection goes at once
 * while events keep being appended:
 *
 * 1. drop: every client's transport closes at the same moment (as when a network drops); the
 *    server carries on.
 * 2. restart: the server gets SIGKILL and is started again on the same data folder and port; the
 *    debates continue from the log (recovery).
 *
 * Each time, socket.io reconnects every client, and each sends `run:watch {runId, afterSeq: the
 * last seq it received}`. At the end, every client must hold every event of its run exactly once,
 * in order, with the stored hashes: compared with `GET /api/runs/:id/events`.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type { EventEnvelope } from '@parley/contracts';
import { ParleyProcess, procStats, waitFor } from '@parley/testing';
import { load1, log, mb, report, round, summarize } from './load-kit';
import { WatcherFleet } from './watchers';

export interface StormOptions {
  clients: number;
  debates: number;
  /** Child processes holding the clients. */
  processes: number;
  name: string;
}

/** The offline model's delay per token: a debate's turns take about half a second each. */
const TOKEN_LATENCY_MS = '15';

export async function reconnectStorm({ clients, debates, processes, name }: StormOptions): Promise<void> {
  const env = { OFFLINE_MODEL_TOKEN_LATENCY_MS: TOKEN_LATENCY_MS };
  let server = await ParleyProcess.start({ env });
  const dataDir = server.dataDir;
  const port = new URL(server.url).port;
  const fleet = new WatcherFleet(clients, processes);
  const storedEvents = async (runIds: string[]): Promise<Record<string, EventEnvelope[]>> => {
    const logs: Record<string, EventEnvelope[]> = {};
    for (const runId of runIds)
      logs[runId] = (await server.client('victor').get(`/api/runs/${runId}/events`)).body.events;
    return logs;
  };
  const total = async (runIds: string[]): Promise<number> =>
    Object.values(await storedEvents(runIds)).reduce((s, e) => s + e.length, 0);
  try {
    // the debates: each runs its opening round, then waits for a human to take the floor
    const runIds: string[] = [];
    for (let d = 0; d < debates; d++) {
      const res = await server
        .client('carol')
        .post('/api/runs', { workflow: 'debate', input: `Storm ${d}: reconnects should be free` });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      runIds.push(res.body.runId);
    }
    await waitFor(
      'every debate to wait for the floor',
      async () => {
        const runs = (await server.client('victor').get('/api/runs?workflow=debate&limit=500')).body.runs as {
          runId: string;
          status: string;
        }[];
        return runs.filter((r) => runIds.includes(r.runId) && r.status === 'waiting').length === debates;
      },
      { timeoutMs: 120_000, intervalMs: 100 },
    );

    const loadBefore = load1();
    const connected = await fleet.connect(server.url);
    log(`${name}: ${clients} clients connected in ${connected.allMs} ms (load ${load1()})`);
    const watchMs = await fleet.watch((k) => [runIds[k % debates]]);
    log(`${name}: every client watches its debate from seq 0 (${watchMs} ms)`);

    // from here on the floor is taken, debate after debate: events flow
    const cpu0 = procStats(server.child.pid).cpuMs;
    const t0 = Date.now();
    const answer = async (d: number): Promise<void> => {
      const res = await server
        .client('maya')
        .post(`/api/runs/${runIds[d]}/messages`, { text: `Point ${d} from the floor` });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    };
    // three groups of debates: the floor is taken in the first before storm 1, in the second during
    // it, in the third right before storm 2 (so that debates are mid-turn when the server dies)
    const third = Math.max(1, Math.floor(debates / 3));
    const flowing = async (what: string): Promise<void> => {
      const before = await total(runIds);
      await waitFor(what, async () => (await total(runIds)) >= before + 2, {
        timeoutMs: 30_000,
        intervalMs: 50,
      });
    };
    for (let d = 0; d < third; d++) await answer(d);
    await flowing('events to flow');

    // storm 1: every connection drops at once, the server carries on
    const stored1 = await total(runIds);
    await fleet.drop();
    for (let d = third; d < 2 * third; d++) await answer(d); // and more start to flow meanwhile
    const storm1 = await fleet.reconnected(60_000);
    const during1 = (await total(runIds)) - stored1;
    log(
      `${name}: storm 1 (drop): ${clients - storm1.notBack} back, p99 ${summarize(storm1.reconnectMs).p99} ms, ${during1} events stored meanwhile`,
    );
    assert.deepEqual(storm1.failures, [], 'every re-watch is accepted');
    assert.equal(storm1.notBack, 0, 'every client is back');

    // storm 2: the server is killed mid-debate and started again on the same data and port
    for (let d = 2 * third; d < debates; d++) await answer(d);
    await flowing('events to flow before the kill');
    const cpu1 = procStats(server.child.pid).cpuMs - cpu0;
    const stored2 = await total(runIds);
    await server.kill();
    const killedAt = Date.now();
    server = await ParleyProcess.start({ dataDir, env: { ...env, PORT: port } });
    const restartMs = Date.now() - killedAt;
    const cpu2 = procStats(server.child.pid).cpuMs;
    const storm2 = await fleet.reconnected(120_000);
    const during2 = (await total(runIds)) - stored2;
    log(
      `${name}: storm 2 (SIGKILL + restart in ${restartMs} ms): ${clients - storm2.notBack} back, p99 ${summarize(storm2.reconnectMs).p99} ms`,
    );
    assert.deepEqual(storm2.failures, [], 'every re-watch is accepted after the restart');
    assert.equal(storm2.notBack, 0, 'every client is back after the restart');

    // the debates finish; every client must then hold exactly the stored log of its debate
    await waitFor(
      'every debate to complete',
      async () => {
        const runs = (await server.client('victor').get('/api/runs?workflow=debate&limit=500')).body.runs as {
          runId: string;
          status: string;
        }[];
        const mine = runs.filter((r) => runIds.includes(r.runId));
        const failed = mine.filter((r) => r.status === 'failed' || r.status === 'cancelled');
        if (failed.length) throw new Error(`debates ended badly: ${JSON.stringify(failed)}`);
        return mine.filter((r) => r.status === 'completed').length === debates;
      },
      { timeoutMs: 180_000, intervalMs: 200 },
    );
    const wallMs = Date.now() - t0;
    const cpuMs = cpu1 + (procStats(server.child.pid).cpuMs - cpu2);
    const logs = await storedEvents(runIds);
    for (const [runId, events] of Object.entries(logs))
      assert.ok(
        events.every((e, i) => e.seq === i + 1) && events.at(-1)?.type === 'run.completed',
        `the stored log of ${runId} is whole`,
      );
    const behind = await fleet.settle(
      Object.fromEntries(Object.entries(logs).map(([id, e]) => [id, e.length])),
      60_000,
    );
    const f = await fleet.check(
      Object.fromEntries(Object.entries(logs).map(([id, e]) => [id, e.map((x) => [x.seq, x.hash])])),
    );
    const loops = await fleet.close();
    const reconnect1 = summarize(storm1.reconnectMs);
    const reconnect2 = summarize(storm2.reconnectMs);
    const connect = summarize(connected.connectMs);
    const events = Object.values(logs).reduce((s, e) => s + e.length, 0);
    report(name, {
      clients,
      processes,
      debates,
      events,
      expectedDeliveries: f.expected,
      deliveries: f.deliveries,
      missing: f.missing,
      duplicates: f.duplicates,
      outOfOrder: f.outOfOrder,
      wrongHash: f.wrongHash,
      clientsBehind: behind,
      tokens: f.tokens,
      reconnects: f.reconnects,
      replayedAfterReconnect: f.replayed,
      storm1Drop: {
        eventsStoredMeanwhile: during1,
        reconnectMs: { p50: reconnect1.p50, p99: reconnect1.p99, max: reconnect1.max },
      },
      storm2Restart: {
        restartMs,
        eventsStoredMeanwhile: during2,
        reconnectMs: { p50: reconnect2.p50, p99: reconnect2.p99, max: reconnect2.max },
      },
      connectMs: { all: connected.allMs, p50: connect.p50, p99: connect.p99 },
      watchAllMs: watchMs,
      wallS: round(wallMs / 1000),
      serverCpuShare: round(cpuMs / wallMs, 2),
      serverRssMbAtEnd: mb(procStats(server.child.pid).rssBytes),
      clientLoopDelayP99Ms: loops.map((l) => l.loopDelayP99Ms),
      clientLoopDelayMaxMs: loops.map((l) => l.loopDelayMaxMs),
      load1m: `${loadBefore}->${load1()}`,
      examples: f.examples,
    });
    assert.equal(f.clients, clients);
    assert.deepEqual(f.examples, [], 'every client holds exactly the stored log of its run');
    assert.deepEqual(
      {
        missing: f.missing,
        duplicates: f.duplicates,
        outOfOrder: f.outOfOrder,
        wrongHash: f.wrongHash,
        behind,
      },
      { missing: 0, duplicates: 0, outOfOrder: 0, wrongHash: 0, behind: 0 },
    );
    assert.equal(f.deliveries, f.expected, '100% delivery');
    const expected = Array.from({ length: clients }, (_, k) => logs[runIds[k % debates]].length);
    assert.equal(
      f.expected,
      expected.reduce((s, n) => s + n, 0),
      'every client checked against its run',
    );
    // the storms mattered: events went by while the clients were away, and came back through afterSeq
    assert.ok(during1 > 0, 'events were stored while the clients were away (storm 1)');
    assert.ok(f.replayed > 0, 'the re-watches replayed missed events');
    assert.equal(f.reconnects, clients * 2, 'every client reconnected twice');
  } catch (error) {
    log(`${name} failed; server output (tail):\n${server.output.join('').split('\n').slice(-40).join('\n')}`);
    fleet.kill();
    throw error;
  } finally {
    await server.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
