/**
 * The SQLite log's stored form (issue 21, item 3): bytes on disk and CPU per event of writing and
 * reading it, on refund-desk runs as the engine writes them (12 events: a refund with an approval;
 * `run.started` carries the workflow snapshot), sealed here and written straight to the log
 * (`SqliteLog`, `synchronous = NORMAL`: CPU, not fsyncs, is what is measured).
 *
 * - append: CPU per event of `insert` (one transaction a run), the encoding included
 * - read all: CPU per event of reading the whole log in the global order, pages of 1,000 (what a
 *   projection does at start-up), and by run (what the engine does when it loads a run)
 * - bytes on disk per run after close (no WAL left)
 *
 * It uses only the log's public calls, so the same compiled script runs against an older build of
 * the log for an A/B. BENCH_LOGSTORE_RUNS: runs written (default scaled(4,200): 50,400 events).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { GENESIS_HASH, WorkflowSchema, sealEvent, type EventEnvelope } from '@parley/contracts';
import { SqliteLog } from '@parley/event-store';
import { REPO_ROOT, cpuMs, gc, log, report, scaled } from './common';

const workflow = WorkflowSchema.parse(
  parseYaml(readFileSync(join(REPO_ROOT, 'workflows', 'refund-desk.yaml'), 'utf8')),
);

/** A finished refund-desk run with an approval, as the engine writes it (12 events). */
function refundRun(i: number): EventEnvelope[] {
  const runId = randomUUID();
  const amount = 101 + (i % 400);
  const order = `M${i}`;
  const reason = `Please refund $${amount} for order #${order}, it arrived broken.`;
  const call1 = randomUUID();
  const call2 = randomUUID();
  const requestId = randomUUID();
  const argsHash = randomUUID().replace(/-/g, '').repeat(2);
  const args = { order_id: order, amount, reason };
  const agent = { kind: 'agent', id: 'refund-agent' } as const;
  const system = { kind: 'system', id: 'parley' } as const;
  const bob = { kind: 'human', id: 'bob' } as const;
  const result = { refundId: `rf_${call1.slice(-12)}`, orderId: order, amount, status: 'refunded' };
  const done = `Done. process_refund returned: ${JSON.stringify(result)}`;
  const t = Date.UTC(2026, 11, 4, 22, 0, 0) + i * 1000;
  const facts: Array<[string, EventEnvelope['actor'], unknown, number]> = [
    ['run.started', { kind: 'human', id: 'maya' }, { workflow, input: reason, requestedBy: 'maya' }, 0],
    [
      'model-call.started',
      agent,
      { callId: call1, agent: 'refund-agent', purpose: 'reply', model: 'offline' },
      1,
    ],
    [
      'model-call.completed',
      agent,
      {
        callId: call1,
        agent: 'refund-agent',
        purpose: 'reply',
        content: '',
        toolCalls: [{ id: `call_${call1.slice(0, 24)}`, name: 'process_refund', arguments: args }],
        attempts: 1,
        usage: { promptTokens: 65, completionTokens: 10 },
      },
      1700,
    ],
    [
      'tool-call.requested',
      agent,
      {
        callId: `${call1}.0`,
        agent: 'refund-agent',
        tool: 'process_refund',
        args,
        argsHash,
        idempotencyKey: `${runId}:${call1}.0`,
      },
      1701,
    ],
    [
      'human-request.opened',
      system,
      {
        requestId,
        kind: 'approval',
        subject: { type: 'tool-call', callId: `${call1}.0` },
        title: 'Approve process_refund',
        ask: `refund-agent wants to run process_refund with ${JSON.stringify(args)} (policy: amount > 100).`,
        payload: { tool: 'process_refund', args },
        payloadHash: argsHash,
        decisions: ['approve', 'reject', 'edit'],
        roles: ['approver'],
        quorum: 1,
        fourEyes: true,
        requester: 'maya',
        deadline: new Date(t + 3_600_000).toISOString(),
        onTimeout: { action: 'escalate', escalateTo: 'admin' },
        policy: { type: 'approval', index: 0 },
      },
      1701,
    ],
    [
      'human-decision.recorded',
      bob,
      { requestId, decision: 'approve', by: { id: 'bob', role: 'approver' }, payloadHash: argsHash },
      9000,
    ],
    [
      'human-request.resolved',
      bob,
      { requestId, outcome: 'approve', deciders: [{ id: 'bob', role: 'approver' }] },
      9000,
    ],
    ['tool-call.started', system, { callId: `${call1}.0`, idempotencyKey: `${runId}:${call1}.0` }, 9000],
    ['tool-call.completed', system, { callId: `${call1}.0`, result, reconciled: false }, 9004],
    [
      'model-call.started',
      agent,
      { callId: call2, agent: 'refund-agent', purpose: 'reply', model: 'offline' },
      9005,
    ],
    [
      'model-call.completed',
      agent,
      {
        callId: call2,
        agent: 'refund-agent',
        purpose: 'reply',
        content: done,
        toolCalls: [],
        attempts: 1,
        usage: { promptTokens: 75, completionTokens: 4 },
      },
      9400,
    ],
    ['run.completed', system, { output: done }, 9400],
  ];
  let prevHash = GENESIS_HASH;
  return facts.map(([type, actor, data, dt], k) => {
    const e = sealEvent({
      eventId: randomUUID(),
      runId,
      seq: k + 1,
      type,
      schemaVersion: 1,
      at: new Date(t + dt).toISOString(),
      actor,
      data,
      correlationId: runId,
      causationId: null,
      prevHash,
    });
    prevHash = e.hash;
    return e;
  });
}

function fileBytes(file: string): number {
  let total = 0;
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      total += statSync(f).size;
    } catch {
      // absent
    }
  }
  return total;
}

async function main(): Promise<void> {
  const runs = Number(process.env.BENCH_LOGSTORE_RUNS) || scaled(4_200);
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-logstore-'));
  const file = join(dir, 'events.db');
  try {
    const all = Array.from({ length: runs }, (_, i) => refundRun(i));
    const events = runs * 12;
    const text = all.flat().reduce((sum, e) => sum + Buffer.byteLength(JSON.stringify(e)), 0);
    let logStore = new SqliteLog(file, 'normal');
    gc();
    let c0 = cpuMs();
    for (const run of all) logStore.insert(run);
    const appendCpu = cpuMs() - c0;
    logStore.close();
    const bytes = fileBytes(file);

    logStore = new SqliteLog(file, 'normal');
    gc();
    c0 = cpuMs();
    let read = 0;
    for (let after = 0; ;) {
      const page = logStore.readAll({ afterPosition: after, limit: 1000 });
      read += page.length;
      if (page.length < 1000) break;
      after = page[page.length - 1].position;
    }
    const readAllCpu = cpuMs() - c0;
    gc();
    c0 = cpuMs();
    for (const run of all) read += logStore.read(run[0].runId).length;
    const readRunsCpu = cpuMs() - c0;
    logStore.close();
    if (read !== 2 * events) throw new Error(`read ${read} events, wrote ${2 * events}`);
    log(`logstore: ${events} events, ${text} bytes of JSON`);
    const extra = { events, runs, jsonBytesPerRun: text / runs };
    report({
      bench: 'logstore',
      name: `${events.toLocaleString('en-US')} events (refund-desk runs of 12): append, CPU per event (one transaction a run, NORMAL)`,
      store: 'sqlite',
      value: (appendCpu * 1000) / events,
      unit: 'µs CPU/event',
      extra,
    });
    report({
      bench: 'logstore',
      name: `${events.toLocaleString('en-US')} events: read all in the global order (pages of 1,000), CPU per event`,
      store: 'sqlite',
      value: (readAllCpu * 1000) / events,
      unit: 'µs CPU/event',
      extra: { totalMs: readAllCpu },
    });
    report({
      bench: 'logstore',
      name: `${events.toLocaleString('en-US')} events: read run by run, CPU per event`,
      store: 'sqlite',
      value: (readRunsCpu * 1000) / events,
      unit: 'µs CPU/event',
      extra: { totalMs: readRunsCpu },
    });
    report({
      bench: 'logstore',
      name: `${runs.toLocaleString('en-US')} finished refund-desk runs: on disk per run after close (db + WAL + shm)`,
      store: 'sqlite',
      value: bytes / runs,
      unit: 'bytes',
      target: '<= 9 KB',
      met: bytes / runs <= 9 * 1024,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
