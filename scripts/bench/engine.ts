/**
 * 2. Engine overhead per agent step: runs are driven one at a time through the real RunEngine, with
 * a model that answers at once in-process (the offline model's rules, no HTTP), so that what is
 * measured is the engine: folding, deciding, sealing and hashing, appending durable events, and
 * for content-pipeline the two human reviews (approved in-process the moment they open, then the
 * run is rebuilt from its log and resumed). Overhead per step = a run's wall time / its 3 model steps.
 * For reference the same runs go through the real OpenAiModelGateway over HTTP to the offline
 * model server (token latency 0).
 */
import { OpenAiModelGateway } from '@parley/llm';
import { startOfflineModelServer } from '@parley/model-offline';
import type { ModelGateway } from '@parley/engine';
import {
  Harness,
  InstantModelGateway,
  cpuMs,
  fixture,
  log,
  now,
  openStore,
  report,
  scaled,
  stores,
  summarize,
  type Fixture,
  type StoreKind,
} from './common';

const STEPS = 3; // writer, editor, publisher
const INPUT = 'Write an article about event sourcing for small teams, with one concrete example.';

interface Measured {
  perStep: number[];
  wallMs: number;
  cpuMs: number;
  runs: number;
  gatewayMs: number;
}

async function drive(harness: Harness, fx: Fixture, workflow: string, runs: number): Promise<Measured> {
  const perStep: number[] = [];
  const t0 = now();
  const c0 = cpuMs();
  for (let i = 0; i < runs; i++) {
    const r0 = now();
    const { finished } = await harness.start(fx.workflows[workflow], INPUT);
    await finished;
    perStep.push((now() - r0) / STEPS);
  }
  return { perStep, wallMs: now() - t0, cpuMs: cpuMs() - c0, runs, gatewayMs: 0 };
}

async function measure(
  kind: StoreKind,
  fx: Fixture,
  models: ModelGateway,
  workflow: string,
  runs: number,
): Promise<Measured> {
  const opened = await openStore(kind, 'engine');
  try {
    const harness = new Harness(opened.store, models, fx.tools, { autoApprove: true });
    await drive(harness, fx, workflow, Math.max(5, Math.round(runs / 10))); // warm-up
    const gateway = models instanceof InstantModelGateway ? models : undefined;
    const busy0 = gateway?.busyMs ?? 0;
    const m = await drive(harness, fx, workflow, runs);
    m.gatewayMs = (gateway?.busyMs ?? busy0) - busy0;
    await harness.engine.stop();
    return m;
  } finally {
    await opened.dispose();
  }
}

async function main(): Promise<void> {
  const fx = fixture();
  const offline = await startOfflineModelServer({ tokenLatencyMs: 0 });
  const http = new OpenAiModelGateway({
    defaultProvider: { baseURL: offline.url, apiKey: 'offline' },
    maxRetries: 0,
  });
  const counts = {
    sqlite: { instant: scaled(300), http: scaled(100) },
    'sqlite-normal': { instant: scaled(300), http: scaled(100) },
    kafka: { instant: scaled(60), http: scaled(40) },
  };
  let sqliteP50: number | undefined; // content-pipeline, instant model
  try {
    for (const kind of stores()) {
      const target = kind === 'sqlite' ? { text: '<= 1 ms', limit: 1 } : undefined;
      for (const workflow of ['content-pipeline', 'content-pipeline/no-review']) {
        const instant = new InstantModelGateway();
        const a = await measure(kind, fx, instant, workflow, counts[kind].instant);
        const sa = summarize(a.perStep);
        const gatewayPerStep = a.gatewayMs / (a.runs * STEPS);
        report({
          bench: 'engine',
          name: `overhead per agent step, ${workflow}, instant model`,
          store: kind,
          value: sa.p50,
          unit: 'ms p50',
          ...(target && workflow === 'content-pipeline'
            ? { target: target.text, met: sa.p50 <= target.limit }
            : {}),
          extra: {
            meanMs: sa.mean,
            p99Ms: sa.p99,
            cpuMsPerStep: a.cpuMs / (a.runs * STEPS),
            runs: a.runs,
            inModelMsPerStep: gatewayPerStep,
            engineOnlyMeanMs: sa.mean - gatewayPerStep,
          },
        });
        const b = await measure(kind, fx, http, workflow, counts[kind].http);
        const sb = summarize(b.perStep);
        report({
          bench: 'engine',
          name: `per agent step, ${workflow}, OpenAiModelGateway over HTTP`,
          store: kind,
          value: sb.p50,
          unit: 'ms p50',
          extra: {
            meanMs: sb.mean,
            p99Ms: sb.p99,
            cpuMsPerStep: b.cpuMs / (b.runs * STEPS),
            runs: b.runs,
            httpMinusInstantP50Ms: sb.p50 - sa.p50,
            httpMinusInstantMeanMs: sb.mean - sa.mean,
          },
        });
        if (workflow === 'content-pipeline') {
          if (kind === 'sqlite') sqliteP50 = sa.p50;
          if (kind === 'kafka' && sqliteP50 !== undefined) {
            const added = sa.p50 - sqliteP50;
            report({
              bench: 'engine',
              name: 'Kafka minus SQLite per agent step, content-pipeline, instant model',
              store: 'kafka',
              value: added,
              unit: 'ms p50',
              target: '<= 5 ms',
              met: added <= 5,
            });
          }
        }
      }
    }
  } finally {
    await offline.close();
    fx.dispose();
  }
  log('engine: done');
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
