/**
 * 9. The cost of observing: runs of content-pipeline (3 agent steps, two human reviews approved as
 * they open) are driven one at a time through the real RunEngine with the instant model, as in
 * `engine`, with the server's observability (apps/server/src/observability) off, with metrics, and
 * with metrics and tracing (the OpenTelemetry SDK's batch processor exporting OTLP/HTTP protobuf to
 * a receiver in this process that discards it). Per agent step: the CPU and wall time of the whole
 * process against the same runs with observability off (noisy on a shared machine), and the
 * headline: the measured runs' own events replayed through fresh observers (metrics; metrics and
 * spans handed to the SDK), the fastest of 5 passes divided by the steps (preemption by other
 * processes only ever adds time, so the fastest pass is the cost).
 */
import { createServer } from 'node:http';
import type { ParleyConfig } from '../../apps/server/src/config/config';
import { upcast, type RunEvent } from '@parley/contracts';
import { ParleyMetrics } from '../../apps/server/src/observability/metrics/parley-metrics';
import { RunMetrics } from '../../apps/server/src/observability/metrics/run-metrics';
import type { RunEventObserver } from '../../apps/server/src/observability/run-observer';
import { RunTrail } from '../../apps/server/src/observability/run-trail';
import { Observability } from '../../apps/server/src/observability/observability';
import { RunTracing } from '../../apps/server/src/observability/tracing/run-tracing';
import { RunsProjection } from '../../apps/server/src/projections/runs.projection';
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

const STEPS = 3;
const INPUT = 'Write an article about event sourcing for small teams, with one concrete example.';
type Mode = 'off' | 'metrics' | 'metrics+tracing';

async function receiver(): Promise<{ url: string; exports: () => number; close: () => Promise<void> }> {
  let exports = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      exports += 1;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    exports: () => exports,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function measure(kind: StoreKind, fx: Fixture, mode: Mode, runs: number, tracesUrl: string) {
  const opened = await openStore(kind, `observability-${mode}`);
  let observability: Observability | undefined;
  try {
    if (mode !== 'off') {
      const config = {
        kafkaBrokers: [],
        instanceId: 'bench',
        tracing:
          mode === 'metrics+tracing'
            ? {
                url: tracesUrl,
                protocol: 'http/protobuf',
                serviceName: 'parley-bench',
                instanceId: 'bench',
                captureContent: false,
              }
            : undefined,
      } as unknown as ParleyConfig;
      observability = new Observability(config, (line) => log(line));
      observability.instrumentStore(opened.store);
      await observability.start({
        store: opened.store,
        projection: new RunsProjection(opened.store),
        owns: () => true,
      });
    }
    const harness = new Harness(opened.store, new InstantModelGateway(), fx.tools, { autoApprove: true });
    const tracing = observability?.tracing;
    if (tracing) {
      // as StartRunHandler does with tracing on: the run records its trace context
      const start = harness.engine.start.bind(harness.engine);
      harness.engine.start = (command) => start({ ...command, trace: tracing.newRunContext() });
    }
    const runIds: string[] = [];
    const drive = async (n: number) => {
      const perStep: number[] = [];
      for (let i = 0; i < n; i++) {
        const r0 = now();
        const { runId, finished } = await harness.start(fx.workflows['content-pipeline'], INPUT);
        await finished;
        runIds.push(runId);
        perStep.push((now() - r0) / STEPS);
      }
      return perStep;
    };
    await drive(Math.max(5, Math.round(runs / 10))); // warm-up
    runIds.length = 0;
    const c0 = cpuMs();
    const perStep = await drive(runs);
    await new Promise((resolve) => setImmediate(resolve)); // the last events reach the observers
    const cpu = cpuMs() - c0;
    await harness.engine.stop();
    const logs = await Promise.all(runIds.map((id) => opened.store.read(id)));
    const observerPerStep =
      mode === 'off'
        ? 0
        : replayed(
            logs.map((l) => l.map(upcast)),
            tracing,
          ) /
          (runs * STEPS);
    await observability?.close(); // flushes the last spans
    return { step: summarize(perStep), cpuPerStep: cpu / (runs * STEPS), observerPerStep };
  } finally {
    await opened.dispose();
  }
}

/** The fastest of 5 passes of the runs' events through fresh observers, as RunObserver hands them on (ms). */
function replayed(logs: RunEvent[][], tracing: RunTracing | undefined): number {
  let best = Infinity;
  for (let pass = 0; pass < 5; pass++) {
    const observers: RunEventObserver[] = [new RunMetrics(new ParleyMetrics())];
    if (tracing) observers.push(tracing);
    const t0 = now();
    for (const events of logs) {
      const trail = new RunTrail(events[0].runId);
      for (const event of events) {
        for (const observer of observers) observer.observe(event, trail);
        trail.apply(event);
      }
    }
    best = Math.min(best, now() - t0);
  }
  return best;
}

async function main(): Promise<void> {
  const fx = fixture();
  const otlp = await receiver();
  const runs = scaled(300);
  try {
    for (const kind of stores().filter((s) => s !== 'kafka')) {
      const off = await measure(kind, fx, 'off', runs, otlp.url);
      for (const mode of ['metrics', 'metrics+tracing'] as const) {
        const on = await measure(kind, fx, mode, runs, otlp.url);
        report({
          bench: 'observability',
          name: `observers per agent step, ${mode}`,
          store: kind,
          value: on.observerPerStep,
          unit: 'ms per step',
          ...(mode === 'metrics'
            ? { target: '< 0.05 ms (tracing off)', met: on.observerPerStep < 0.05 }
            : {}),
          extra: {
            cpuMsPerStep: on.cpuPerStep,
            cpuMsPerStepOff: off.cpuPerStep,
            cpuAddedMsPerStep: on.cpuPerStep - off.cpuPerStep,
            p50Ms: on.step.p50,
            p50MsOff: off.step.p50,
            meanMs: on.step.mean,
            meanMsOff: off.step.mean,
            runs,
          },
        });
      }
    }
    report({
      bench: 'observability',
      name: 'OTLP exports received',
      store: 'none',
      value: otlp.exports(),
      unit: 'requests',
    });
  } finally {
    await otlp.close();
    fx.dispose();
  }
  log('observability: done');
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
