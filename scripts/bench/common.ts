/**
/*
 * (Over 400 lines: the helpers every benchmark process shares; splitting them would only add imports.)
 */
/**
 * Shared pieces of the benchmarks (run by scripts/bench.mjs, one process per benchmark):
 * statistics, an instant in-process model gateway, the example workflows and tools, event stores,
 * and the `BENCH {json}` result lines the runner turns into a table.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import type { RunEvent, Workflow } from '@parley/contracts';
import { KafkaEventStore, SqliteEventStore, type EventStore } from '@parley/event-store';
import {
  ModelCallError,
  RunEngine,
  decideOnRequest,
  type Acting,
  type ModelCallContext,
  type ModelCallPlan,
  type ModelGateway,
  type ModelResult,
  type ToolRegistry,
} from '@parley/engine';
import { decideReply, type ChatMessage as OfflineMessage, type ChatRequest } from '@parley/model-offline';
import { toOpenAi } from '@parley/llm';
import { exampleTools } from '../../apps/server/src/tools/example-tools';
import { LocalRefunds, RefundLedger } from '@parley/refunds';
import { parseWorkflowFile } from '../../apps/server/src/workflows/workflow-catalog';

export const REPO_ROOT = join(__dirname, '..', '..', '..');

// ---------------------------------------------------------------- statistics

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export interface Summary {
  n: number;
  mean: number;
  p50: number;
  p99: number;
  max: number;
}

export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((s, x) => s + x, 0) / (sorted.length || 1);
  return {
    n: sorted.length,
    mean,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? NaN,
  };
}

export const now = (): number => performance.now();

/**
 * CPU time this process has used (user + system, all its threads), in ms. On a shared machine wall
 * time depends on what else runs; CPU time much less so: the figures report both.
 */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error('run with --expose-gc (npm run bench does)');
  for (let i = 0; i < 3; i++) g();
}

// ---------------------------------------------------------------- output

/**
 * One figure: printed as `BENCH {json}` on stdout for the runner, and readably on stderr.
 * `value` is the headline number; `extra` holds the details shown next to it.
 */
export function report(figure: {
  bench: string;
  name: string;
  store: string;
  value: number;
  unit: string;
  target?: string;
  met?: boolean;
  extra?: Record<string, unknown>;
}): void {
  process.stdout.write(`BENCH ${JSON.stringify(figure)}\n`);
  const extra = figure.extra ? ` ${JSON.stringify(figure.extra)}` : '';
  process.stderr.write(
    `[bench:${figure.bench}] ${figure.name} (${figure.store}): ${fmt(figure.value)} ${figure.unit}${extra}\n`,
  );
}

export const log = (line: string): void => {
  process.stderr.write(`[bench] ${line}\n`);
};

export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Math.abs(x) >= 100) return x.toFixed(0);
  if (Math.abs(x) >= 10) return x.toFixed(1);
  if (Math.abs(x) >= 1) return x.toFixed(2);
  return x.toFixed(3);
}

/**
 * The logs benchmarked: `sqlite` (synchronous = FULL, the default), `sqlite-normal` (NORMAL, what
 * PARLEY_SQLITE_SYNC=normal gives: the cost of FULL is the difference) and `kafka` (needs
 * KAFKA_BROKERS). `BENCH_STORES=sqlite,kafka` narrows them (the runner's --stores sets it).
 */
export type StoreKind = 'sqlite' | 'sqlite-normal' | 'kafka';
export function stores(): StoreKind[] {
  const wanted = (process.env.BENCH_STORES ?? 'sqlite,sqlite-normal,kafka').split(',').map((s) => s.trim());
  return (['sqlite', 'sqlite-normal', 'kafka'] as const).filter(
    (s) => wanted.includes(s) && (s !== 'kafka' || !!process.env.KAFKA_BROKERS),
  );
}

/** For the benchmarks that measure one SQLite mode (the default, FULL): the append and engine ones compare both. */
export const sqliteFullOrKafka = (kind: StoreKind): kind is 'sqlite' | 'kafka' => kind !== 'sqlite-normal';

/** `BENCH_SCALE=0.2` shrinks the iteration counts (quick smoke runs); default 1. */
export function scaled(n: number): number {
  const scale = Number(process.env.BENCH_SCALE ?? '1');
  return Math.max(1, Math.round(n * (Number.isFinite(scale) && scale > 0 ? scale : 1)));
}

// ---------------------------------------------------------------- stores

export interface OpenedStore {
  store: EventStore;
  dir: string;
  /** Close the store and delete its files. */
  dispose(): Promise<void>;
}

let topicCounter = 0;

/** A fresh, empty log of the given kind in a temp dir (Kafka: a new topic on the broker). */
export async function openStore(
  kind: StoreKind,
  label: string,
  options: { partitions?: number } = {},
): Promise<OpenedStore & { topic?: string }> {
  const dir = mkdtempSync(join(tmpdir(), `parley-bench-${label}-`));
  if (kind !== 'kafka') {
    const store = new SqliteEventStore({
      dataDir: dir,
      synchronous: kind === 'sqlite-normal' ? 'normal' : 'full',
    });
    return {
      store,
      dir,
      dispose: async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const topic = `parley.bench.${label}.${process.pid}.${Date.now()}.${++topicCounter}`;
  const store = await openKafka(topic, dir, options.partitions);
  return {
    store,
    dir,
    topic,
    dispose: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function openKafka(topic: string, localDir: string, partitions = 12): Promise<KafkaEventStore> {
  const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
  return KafkaEventStore.open({
    brokers,
    localDir,
    topic,
    partitions,
    log: (line) => process.stderr.write(`${line}\n`),
  });
}

// ---------------------------------------------------------------- workflows, tools, people

export interface Fixture {
  tools: ToolRegistry;
  ledger: RefundLedger;
  workflows: Record<string, Workflow>;
  dir: string;
  dispose(): void;
}

/** The example tools (with a real refunds ledger in a temp dir) and the example workflows, parsed as the server does. */
export function fixture(): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-ledger-'));
  const ledger = new RefundLedger(dir);
  const tools = exampleTools(new LocalRefunds(ledger));
  const workflows: Record<string, Workflow> = {};
  for (const name of ['content-pipeline', 'refund-desk']) {
    const file = join(REPO_ROOT, 'workflows', `${name}.yaml`);
    workflows[name] = parseWorkflowFile(`workflows/${name}.yaml`, readFileSync(file, 'utf8'), tools);
  }
  // content-pipeline without its two human reviews: the same three agents back to back.
  const cp = workflows['content-pipeline'];
  if (cp.pattern === 'sequential') {
    workflows['content-pipeline/no-review'] = {
      ...cp,
      stages: cp.stages.map((s) => ({ ...s, review: undefined })),
    } as Workflow;
  }
  return {
    tools,
    ledger,
    workflows,
    dir,
    dispose: () => {
      ledger.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const REQUESTER = { kind: 'human', id: 'carol' } as const;

/** An approver who is not the requester (refund-desk approvals are four-eyes). */
export const APPROVER: Acting = {
  id: 'alice',
  roleFor: (roles) =>
    roles.includes('approver') ? 'approver' : roles.includes('admin') ? 'admin' : undefined,
  isAdmin: false,
};

/** Approve an open request the way the decision command handler does, then resume the run (the saga's job). */
export async function approve(engine: RunEngine, runId: string, requestId: string): Promise<void> {
  // As DecideRequestCommand does: the decision, and what the run does next, in one append.
  const { result } = await engine.write(
    runId,
    (state) =>
      decideOnRequest(state!, requestId, APPROVER, { decision: 'approve' }, new Date(), () => undefined),
    { drive: true },
  );
  if (result.status !== 'resolved')
    throw new Error(`approval of ${requestId} not resolved: ${result.status}`);
}

// ---------------------------------------------------------------- the instant model

/**
 * A ModelGateway that answers in-process, at once, with the offline model's own rule engine
 * (`decideReply`): the same answers as the HTTP offline model, without HTTP, SSE or the SDK.
 * `busyMs` accumulates the time spent inside it, so that it can be told apart from the engine.
 */
export class InstantModelGateway implements ModelGateway {
  busyMs = 0;
  calls = 0;
  private readonly schemas = new WeakMap<z.ZodType, Record<string, unknown>>();

  async complete(plan: ModelCallPlan, _ctx: ModelCallContext): Promise<ModelResult> {
    const t0 = now();
    try {
      this.calls += 1;
      const request: ChatRequest = {
        model: plan.agent.model,
        messages: plan.messages.map(toChat),
        ...(plan.tools.length
          ? {
              tools: plan.tools.map((t) => ({
                type: 'function',
                function: { name: t.name, description: t.description, parameters: t.parameters },
              })),
            }
          : {}),
        ...(plan.structured
          ? {
              response_format: {
                type: 'json_schema',
                json_schema: {
                  name: plan.structured.name,
                  schema: this.jsonSchema(plan.structured.schema),
                  strict: true,
                },
              },
            }
          : {}),
      };
      const reply = decideReply(request);
      if (reply.kind === 'tool_calls') {
        return {
          content: '',
          toolCalls: reply.toolCalls.map((c) => ({
            id: c.id,
            name: c.name,
            arguments: JSON.parse(c.arguments) as unknown,
          })),
          attempts: 1,
        };
      }
      if (!plan.structured) return { content: reply.content, toolCalls: [], attempts: 1 };
      const parsed = plan.structured.schema.safeParse(JSON.parse(reply.content));
      if (!parsed.success)
        throw new ModelCallError('MODEL_OUTPUT_INVALID', `${plan.agent.name}: ${parsed.error.message}`, 1);
      return { content: reply.content, toolCalls: [], structured: parsed.data, attempts: 1 };
    } finally {
      this.busyMs += now() - t0;
    }
  }

  private jsonSchema(schema: z.ZodType): Record<string, unknown> {
    let json = this.schemas.get(schema);
    if (!json) this.schemas.set(schema, (json = z.toJSONSchema(schema) as Record<string, unknown>));
    return json;
  }
}

/** The offline model reads the OpenAI wire shape: the gateway's own conversion. */
const toChat = (m: ModelCallPlan['messages'][number]): OfflineMessage => toOpenAi(m) as OfflineMessage;

/** Resolves when `count` events of type `type` have been appended (fed from RunEngine's onAppended). */
export class EventCounter {
  private seen = 0;
  private waiters: Array<{ target: number; resolve: () => void }> = [];
  constructor(readonly type: string) {}
  get count(): number {
    return this.seen;
  }
  feed(type: string): void {
    if (type !== this.type) return;
    this.seen += 1;
    this.waiters = this.waiters.filter((w) => (w.target <= this.seen ? (w.resolve(), false) : true));
  }
  reach(target: number): Promise<void> {
    if (this.seen >= target) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ target, resolve }));
  }
}

// ---------------------------------------------------------------- an engine with hooks

const TERMINAL = new Set(['run.completed', 'run.failed', 'run.cancelled']);

export interface HarnessOptions {
  /** Approve every request as soon as it opens (in-process, through `decideOnRequest` + `engine.write`). */
  autoApprove?: boolean;
  /** Every batch appended through the engine (RunEngine's onAppended), after the harness's own handling. */
  onAppended?: (events: RunEvent[]) => void;
  /** Live tokens, for the runs `tokensWatched` says someone watches (RunEngine's own options). */
  onToken?: (runId: string, agent: string, delta: string) => void;
  tokensWatched?: (runId: string) => boolean;
}

/** A real RunEngine plus what the server adds around it: resume after a decision, wait for a run to end. */
export class Harness {
  readonly engine: RunEngine;
  private readonly finished = new Map<
    string,
    { resolve: (type: string) => void; reject: (e: Error) => void }
  >();
  private counter = 0;

  constructor(
    store: EventStore,
    models: ModelGateway,
    tools: ToolRegistry,
    private readonly options: HarnessOptions = {},
  ) {
    this.engine = new RunEngine({
      store,
      models,
      tools,
      onAppended: (events) => this.appended(events),
      onToken: options.onToken,
      tokensWatched: options.tokensWatched,
      log: (line) => process.stderr.write(`[engine] ${line}\n`),
    });
  }

  /** Start a run; `finished` resolves with its terminal event type (run.failed / cancelled reject). */
  async start(workflow: Workflow, input: string): Promise<{ runId: string; finished: Promise<string> }> {
    const runId = `bench-${process.pid}-${++this.counter}-${randomUUID().slice(0, 8)}`;
    const finished = this.waitForEnd(runId);
    await this.engine.start({ runId, workflow, input, requestedBy: REQUESTER });
    return { runId, finished };
  }

  waitForEnd(runId: string): Promise<string> {
    return new Promise<string>((resolve, reject) => this.finished.set(runId, { resolve, reject }));
  }

  private appended(events: RunEvent[]): void {
    for (const event of events) {
      if (event.type === 'human-request.opened' && this.options.autoApprove) {
        // On the next turn of the event loop, as a decision arriving over HTTP would: after the run
        // has paused and left memory.
        const { runId } = event;
        const requestId = event.data.requestId;
        setImmediate(() => {
          approve(this.engine, runId, requestId).catch((error: unknown) => {
            this.finished.get(runId)?.reject(error instanceof Error ? error : new Error(String(error)));
          });
        });
      }
      if (TERMINAL.has(event.type)) {
        const waiter = this.finished.get(event.runId);
        this.finished.delete(event.runId);
        if (event.type === 'run.completed') waiter?.resolve(event.type);
        else
          waiter?.reject(
            new Error(`run ${event.runId} ended with ${event.type}: ${JSON.stringify(event.data)}`),
          );
      }
    }
    this.options.onAppended?.(events);
  }
}

// ---------------------------------------------------------------- profiling

/**
 * `BENCH_PROFILE=<dir>`: a V8 CPU profile of one phase of a benchmark (`<dir>/<name>.cpuprofile`,
 * open it in Chrome DevTools or summarise it with `node scripts/bench/profile-top.mjs <file>`).
 * Without it, `fn` runs as it is.
 */
export async function profiled<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const dir = process.env.BENCH_PROFILE;
  if (!dir) return fn();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  try {
    return await fn();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${name.replace(/[^\w.-]+/g, '-')}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
    log(`profile of ${name}: ${file}`);
  }
}
