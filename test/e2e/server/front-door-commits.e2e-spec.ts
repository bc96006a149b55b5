import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunEvent } from '@parley/contracts';
import { SqliteEventStore } from '@parley/event-store';
import { RunEngine, ToolRegistry, decideOnRequest } from '@parley/engine';
import { OpenAiModelGateway } from '@parley/llm';
import { startOfflineModelServer, type OfflineModelServer } from '@parley/model-offline';
import { ParleyProcess, REPO_ROOT, runInStatus, waitFor, type HttpClient } from '@parley/testing';
import { parseWorkflowFile } from '../../../apps/server/src/workflows/workflow-catalog';

const INPUT = 'Write an article about event sourcing for small teams, with one concrete example.';

/** A counter of /metrics (no labels). */
async function counter(server: ParleyProcess, name: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line, `${name} is on /metrics`);
  return Number(line.slice(name.length + 1));
}

/**
 * What a run costs in durable writes through the front door. The same content-pipeline run (two
 * reviews) is driven through a real server process over REST and in-process through the real
 * RunEngine on a SQLite log, one operation at a time: the REST path commits no transaction of its
 * own beyond the engine's appends (the read model, idempotency, the CQRS bus and the socket feed are
 * all in memory), and the head signer adds one fsynced anchor write per pause or end, off the event
 * loop. `parley_event_log_commits_total` and `parley_anchor_writes_total` are the counts.
 */
describe('the front door commits what the engine commits, and one anchor per pause or end', () => {
  let server: ParleyProcess;
  let model: OfflineModelServer;
  let dir: string;

  before(async () => {
    server = await ParleyProcess.start();
    model = await startOfflineModelServer();
    dir = mkdtempSync(join(tmpdir(), 'parley-commits-'));
  });
  after(async () => {
    await server?.dispose();
    await model?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Commits of start → pause, decision → pause, decision → completed, for one run. */
  type Counts = { start: number; resume: number; finish: number };

  async function overRest(): Promise<{ commits: Counts; anchors: Counts }> {
    const carol = server.client('carol');
    const alice = server.client('alice');
    const commits = (): Promise<number> => counter(server, 'parley_event_log_commits_total');
    const anchors = (): Promise<number> => counter(server, 'parley_anchor_writes_total');
    // the anchor of a pause is written just after the pause: wait for it before counting on
    const anchored = async (before: number): Promise<number> => {
      await waitFor('the anchor of the pause is written', async () => (await anchors()) > before);
      return anchors();
    };
    const openRequest = async (api: HttpClient, runId: string, seen: Set<string>): Promise<string> => {
      let id = '';
      await waitFor('the review is open', async () => {
        const { body } = await api.get(`/api/requests?status=open`);
        id = (body.requests as Array<{ id: string; runId: string }>).find(
          (r) => r.runId === runId && !seen.has(r.id),
        )?.id as string;
        return Boolean(id);
      });
      seen.add(id);
      return id;
    };
    const c0 = await commits();
    const a0 = await anchors();
    const started = await carol.post('/api/runs', { workflow: 'content-pipeline', input: INPUT });
    assert.equal(started.status, 201);
    const runId = started.body.runId as string;
    await runInStatus(carol, runId, 'waiting');
    const a1 = await anchored(a0);
    const c1 = await commits();
    const seen = new Set<string>();
    const first = await openRequest(alice, runId, seen);
    assert.equal((await alice.post(`/api/requests/${first}/decision`, { decision: 'approve' })).status, 200);
    const second = await openRequest(alice, runId, seen);
    await runInStatus(carol, runId, 'waiting');
    const a2 = await anchored(a1);
    const c2 = await commits();
    assert.equal((await alice.post(`/api/requests/${second}/decision`, { decision: 'approve' })).status, 200);
    await runInStatus(carol, runId, 'completed');
    const a3 = await anchored(a2);
    const c3 = await commits();
    return {
      commits: { start: c1 - c0, resume: c2 - c1, finish: c3 - c2 },
      anchors: { start: a1 - a0, resume: a2 - a1, finish: a3 - a2 },
    };
  }

  async function inProcess(): Promise<Counts> {
    const store = new SqliteEventStore({ dataDir: dir });
    const tools = new ToolRegistry();
    const file = join(REPO_ROOT, 'workflows', 'content-pipeline.yaml');
    const workflow = parseWorkflowFile('content-pipeline.yaml', readFileSync(file, 'utf8'), tools);
    const waiting = new Map<string, (event: RunEvent) => void>();
    const engine = new RunEngine({
      store,
      models: new OpenAiModelGateway({ defaultProvider: { baseURL: model.url, apiKey: 'offline' } }),
      tools,
      onAppended: (events) => {
        for (const event of events) waiting.get(event.type)?.(event);
      },
    });
    const next = (type: string): Promise<RunEvent> => new Promise((resolve) => waiting.set(type, resolve));
    const decide = async (runId: string, event: RunEvent): Promise<void> => {
      const requestId = (event as Extract<RunEvent, { type: 'human-request.opened' }>).data.requestId;
      // as a decision over REST finds it: the run paused and out of memory (its driver stopped)
      await engine.settled(runId);
      await engine.write(
        runId,
        (state) =>
          decideOnRequest(
            state!,
            requestId,
            {
              id: 'alice',
              isAdmin: false,
              roleFor: (roles) => (roles.includes('approver') ? 'approver' : undefined),
            },
            { decision: 'approve' },
            new Date(),
            () => undefined,
          ),
        { drive: true },
      );
    };
    try {
      const c0 = store.commits();
      let opened = next('human-request.opened');
      const { runId } = await engine.start({
        workflow,
        input: INPUT,
        requestedBy: { kind: 'human', id: 'carol' },
      });
      let event = await opened;
      const c1 = store.commits();
      opened = next('human-request.opened');
      await decide(runId, event);
      event = await opened;
      const c2 = store.commits();
      const done = next('run.completed');
      await decide(runId, event);
      await done;
      return { start: c1 - c0, resume: c2 - c1, finish: store.commits() - c2 };
    } finally {
      await engine.stop();
      await store.close();
    }
  }

  it('REST start, resume and finish: the engine appends only, and one anchor each', async () => {
    const rest = await overRest();
    const engine = await inProcess();
    assert.deepEqual(rest.commits, engine, 'REST commits no transaction beyond the engine appends');
    // the engine's own figure today: two group commits per operation (the step's facts, then the pause)
    assert.deepEqual(engine, { start: 2, resume: 2, finish: 2 });
    assert.deepEqual(rest.anchors, { start: 1, resume: 1, finish: 1 });
  });
});
