import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventEnvelope } from '@parley/contracts';
import { KafkaEventStore } from '@parley/event-store';
import { startRefundsService, type RunningRefundsService } from '@parley/refunds';
import { ParleyProcess, TEST_USERS, auditRunEvents, readCommittedTopic, waitFor } from '@parley/testing';
import { partitionOf, runIdForIdempotencyKey } from '../../../apps/server/src/cluster/ownership';
import { brokers, dropCluster, status, waitBalanced } from './cluster-helpers';

/**
 * Where the owner is stopped (SIGSTOP) in a trial: at an engine step boundary (it stops itself
 * there: the model call about to be made, the refund about to be made, the refund made but its
 * result not recorded), or, `during-decision`, by the test right after a human's decision was sent
 * to it (the decision may or may not be in the log when it stops).
 */
export type PausePoint = 'before-model' | 'before-tool' | 'after-tool' | 'during-decision';
export const PAUSE_POINTS: PausePoint[] = ['before-model', 'before-tool', 'after-tool', 'during-decision'];

const SESSION_TIMEOUT_MS = 6000;

export interface TrialReport {
  point: PausePoint;
  runId: string;
  pausedMs: number;
  /** The paused owner's log said the broker fenced it. */
  fenced: boolean;
}

/**
 * Two Parley instances on one topic prefix, with the shared refunds service. Instance A is the one
 * a trial pauses: it is (re)started for each trial with `PARLEY_CHAOS_ACTION=pause` at the trial's
 * point (probability 1, once), and the trial's run is placed on a partition A owns.
 */
export class SplitBrainCluster {
  readonly prefix = `parley-split-${randomUUID().slice(0, 8)}`;
  a!: ParleyProcess;
  b!: ParleyProcess;
  refunds!: RunningRefundsService;
  private readonly refundsDir = mkdtempSync(join(tmpdir(), 'parley-refunds-'));
  private trials = 0;

  async start(): Promise<void> {
    this.refunds = await startRefundsService({ dataDir: this.refundsDir });
    this.b = await this.instance('b', {});
  }

  private instance(name: string, extra: Record<string, string>): Promise<ParleyProcess> {
    return ParleyProcess.start({
      eventLog: 'kafka',
      env: {
        KAFKA_BROKERS: brokers(),
        PARLEY_INSTANCE_ID: `${this.prefix}-${name}`,
        PARLEY_KAFKA_TOPIC_PREFIX: this.prefix,
        PARLEY_KAFKA_SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS),
        PARLEY_KAFKA_HEARTBEAT_MS: '500',
        PARLEY_REFUNDS_URL: this.refunds.url,
        ...extra,
      },
    });
  }

  /**
   * One trial: a refund of $250 (approval by a second human) owned by A; A stops itself at `point`
   * for `pauseMs` (longer than the session timeout), B takes the run over and finishes it, then A
   * is continued (SIGCONT) and must not write a second version of anything.
   */
  async trial(point: PausePoint, pauseMs = SESSION_TIMEOUT_MS + 3000): Promise<TrialReport> {
    const n = ++this.trials;
    if (this.a) await this.a.dispose();
    const external = point === 'during-decision';
    this.a = await this.instance(
      `a${n}`,
      external
        ? {}
        : {
            PARLEY_CHAOS_CRASH_POINTS: point,
            PARLEY_CHAOS_CRASH_PROBABILITY: '1',
            PARLEY_CHAOS_ACTION: 'pause',
          },
    );
    const [statusA] = await waitBalanced([this.a, this.b]);
    // A run whose partition A owns: the run id of an idempotency key is known before the start.
    let key = '';
    let runId = '';
    for (let i = 0; !runId; i++) {
      key = `split-${n}-${i}-${randomUUID().slice(0, 6)}`;
      const id = runIdForIdempotencyKey(TEST_USERS.carol.id, key);
      if (statusA.owned.includes(partitionOf(id, statusA.partitions))) runId = id;
    }
    const chaosLog = join(this.a.dataDir, 'chaos-crashes.log');
    let stoppedByTest = false;
    const paused = (): boolean =>
      stoppedByTest || (existsSync(chaosLog) && readFileSync(chaosLog, 'utf8').includes('SIGSTOP'));
    // Through B: the start is routed to A. (If A pauses before it answers, B runs it again after
    // the takeover: the idempotency key names the same run.)
    const start = this.b
      .client('carol')
      .post('/api/runs', {
        workflow: 'refund-desk',
        input: `Please refund $250 for order #S${n}, it broke`,
        idempotencyKey: key,
      });
    let decision: Promise<unknown> | undefined;
    if (point !== 'before-model') {
      const started = await start;
      assert.ok([200, 201].includes(started.status), JSON.stringify(started.body));
      const requestId = await waitFor(
        `run ${runId} waits for its approval`,
        async () => {
          const run = (await this.b.client('alice').get(`/api/runs/${runId}`)).body;
          return run.status === 'waiting' ? (run.pendingRequests[0].id as string) : undefined;
        },
        { timeoutMs: 60_000 },
      );
      if (external) {
        // Straight to the owner, and stopped a moment later: mid-command.
        decision = this.a
          .client('alice')
          .post(`/api/requests/${requestId}/decision`, { decision: 'approve' });
        await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 15)));
        process.kill(this.a.child.pid!, 'SIGSTOP');
        stoppedByTest = true;
      } else
        decision = this.b
          .client('alice')
          .post(`/api/requests/${requestId}/decision`, { decision: 'approve' });
    }
    await waitFor(`A stops itself at ${point}`, paused, { timeoutMs: 60_000, intervalMs: 20 });
    const pausedAt = Date.now();
    if (point === 'before-model') {
      // B takes over the model call; the approval is asked by B and decided there.
      const requestId = await waitFor(
        `B asks for run ${runId}'s approval`,
        async () => {
          const run = (await this.b.client('alice').get(`/api/runs/${runId}`)).body;
          return run.status === 'waiting' ? (run.pendingRequests[0].id as string) : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 200 },
      );
      const decided = await this.b
        .client('alice')
        .post(`/api/requests/${requestId}/decision`, { decision: 'approve' });
      assert.equal(decided.status, 200, JSON.stringify(decided.body));
    }
    if (external) {
      // Once B has taken the run over: the decision is in the log (A appended it before it stopped)
      // or it is not, and the human sends it again, through B.
      await waitFor('B owns the run', async () => (await status(this.b, runId)).run?.ownedHere === true, {
        timeoutMs: 60_000,
        intervalMs: 200,
      });
      const run = (await this.b.client('alice').get(`/api/runs/${runId}`)).body;
      if (run.status === 'waiting') {
        const again = await this.b
          .client('alice')
          .post(`/api/requests/${run.pendingRequests[0].id}/decision`, { decision: 'approve' });
        assert.equal(again.status, 200, JSON.stringify(again.body));
      }
    }

    // B takes the run over and finishes it while A is stopped.
    await waitFor(
      `B finishes run ${runId} while A is paused`,
      async () => (await this.b.client('alice').get(`/api/runs/${runId}`)).body.status === 'completed',
      { timeoutMs: 90_000, intervalMs: 200 },
    );
    const left = pauseMs - (Date.now() - pausedAt);
    if (left > 0) await new Promise((r) => setTimeout(r, left));
    const pausedMs = Date.now() - pausedAt;
    process.kill(this.a.child.pid!, 'SIGCONT');
    // Requests that went to A, or were routed to it, answer once it runs again (whatever they say).
    await start.catch(() => undefined);
    await decision?.catch(() => undefined);

    // A wakes up, finds out it lost the run (its next append is fenced, or the group tells it first), rejoins.
    await waitBalanced([this.a, this.b], 90_000);
    await this.agree(runId);
    return { point, runId, pausedMs, fenced: this.a.output.join('').includes('FENCED') };
  }

  /** Every check of the "done when" for one run, and the topic as a whole. */
  async agree(runId: string): Promise<void> {
    const audit = auditRunEvents(await readCommittedTopic(brokers().split(','), `${this.prefix}.run-events`));
    assert.equal(audit.conflicts, 0, 'no (runId, seq) has two versions on the topic');
    assert.equal(audit.duplicates, 0, 'no record twice');
    assert.deepEqual(audit.brokenChains, []);
    const onTopic = audit.byRun.get(runId) ?? [];
    const types = onTopic.map((e) => e.type);
    assert.equal(types.filter((t) => t === 'run.completed').length, 1, types.join(', '));
    assert.equal(types.filter((t) => t === 'tool-call.completed').length, 1, types.join(', '));
    assert.equal(types.filter((t) => t === 'human-decision.recorded').length, 1, types.join(', '));

    // Every instance, and a fresh one, hold the same log byte for byte.
    const fresh = await KafkaEventStore.open({
      brokers: brokers().split(','),
      topic: `${this.prefix}.run-events`,
      localDir: ':memory:',
      writes: 'claimed',
      log: () => undefined,
    });
    try {
      const logs = await Promise.all(
        [this.a, this.b].map(
          async (i) =>
            (await waitFor(`run ${runId} on ${i.url}`, async () => {
              const events = (await i.client('victor').get(`/api/runs/${runId}/events`)).body.events as
                EventEnvelope[] | undefined;
              return events && events.length === onTopic.length ? events : undefined;
            })) as EventEnvelope[],
        ),
      );
      const expected = JSON.stringify(onTopic);
      assert.equal(
        JSON.stringify(await fresh.read(runId)),
        expected,
        'a fresh instance agrees with the topic',
      );
      for (const events of logs) assert.equal(JSON.stringify(events), expected, 'every instance agrees');
    } finally {
      await fresh.close();
    }
    const refunds = (await (await fetch(`${this.refunds.url}/refunds?runId=${runId}`)).json()) as {
      refunds: unknown[];
    };
    assert.equal(refunds.refunds.length, 1, 'the shared ledger holds exactly one refund for the run');
  }

  async close(): Promise<void> {
    if (this.a?.child.exitCode === null) process.kill(this.a.child.pid!, 'SIGCONT'); // a failed trial may leave it stopped
    await Promise.all([this.a, this.b].filter(Boolean).map((i) => i.dispose()));
    await this.refunds?.close();
    rmSync(this.refundsDir, { recursive: true, force: true });
    await dropCluster(this.prefix).catch(() => undefined);
  }
}

export { status };
