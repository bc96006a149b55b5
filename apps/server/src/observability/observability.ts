import type { EventStore } from '@parley/event-store';
import type { ParleyConfig } from '../config/config';
import type { RunsProjection } from '../projections/runs.projection';
import { KafkaLag } from './metrics/kafka-lag';
import { ParleyMetrics } from './metrics/parley-metrics';
import { RunMetrics } from './metrics/run-metrics';
import { registerStateGauges } from './metrics/state-gauges';
import { setRunLogSource } from './logging/run-log-context';
import { RunObserver, type RunEventObserver } from './run-observer';
import type { RunTracing } from './tracing/run-tracing';

/** What observing needs of the core, once it is built. */
export interface ObservedCore {
  store: EventStore;
  projection: RunsProjection;
  owns: (runId: string) => boolean;
  /** Kafka mode: the owners' group. */
  ownedPartitions?: () => number;
  /** SQLite mode: the log's commits and the anchor file's writes (`parley_*_total`, read when scraped). */
  commits?: () => number;
  anchorWrites?: () => number;
}

/**
 * Metrics, traces (when an OTLP endpoint is configured) and the trail of facts both are derived
 * from: built before the core (the event log's appends are timed from the first), started once the
 * read model is (`start`), closed last (the last spans are flushed).
 */
export class Observability {
  readonly metrics: ParleyMetrics;
  /** On when an OTLP endpoint is configured. */
  readonly tracing?: RunTracing;
  private observer?: RunObserver;
  private kafkaLag?: KafkaLag;
  private socketClients: () => number = () => 0;

  constructor(
    private readonly config: ParleyConfig,
    private readonly warn: (line: string) => void,
  ) {
    this.metrics = new ParleyMetrics();
    // the OpenTelemetry SDK and its exporters are loaded only when tracing is on (start-up time)
    if (config.tracing) {
      const { RunTracing: Tracing } =
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        require('./tracing/run-tracing') as typeof import('./tracing/run-tracing');
      this.tracing = new Tracing(config.tracing);
    }
  }

  /** Times every append of the log (`parley_event_log_append_duration_seconds{log}`). */
  instrumentStore(store: EventStore): void {
    const append = store.append.bind(store);
    const histogram = this.metrics.appendDuration.labels({ log: store.kind });
    store.append = async (runId, expectedSeq, events) => {
      const end = histogram.startTimer();
      try {
        return await append(runId, expectedSeq, events);
      } finally {
        end();
      }
    };
    if (store.kind === 'kafka')
      this.kafkaLag = new KafkaLag(
        store as unknown as ConstructorParameters<typeof KafkaLag>[0],
        this.config.kafkaBrokers,
        this.config.instanceId,
      );
  }

  /** The socket.io server's client count, once the gateway is up. */
  countSocketClients(count: () => number): void {
    this.socketClients = count;
  }

  async start(core: ObservedCore): Promise<void> {
    const lag = this.kafkaLag;
    registerStateGauges(this.metrics, {
      projection: core.projection,
      store: core.store,
      owns: core.owns,
      socketClients: () => this.socketClients(),
      commits: core.commits,
      anchorWrites: core.anchorWrites,
      kafka:
        lag && core.ownedPartitions
          ? { ownedPartitions: core.ownedPartitions, lag: () => lag.lag() }
          : undefined,
    });
    const tracing = this.tracing;
    tracing?.readTracesFrom((runId) => core.projection.traceOf(runId));
    // log lines about a run: its runId (a request line: its request's run) and, tracing on, its trace
    setRunLogSource({
      traceOf: (runId) => tracing?.traceOf(runId),
      runOfRequest: (requestId) => core.projection.request(requestId)?.runId,
    });
    const observers: RunEventObserver[] = [new RunMetrics(this.metrics)];
    if (this.tracing) observers.push(this.tracing);
    this.observer = new RunObserver(core.store, core.owns, observers, this.warn);
    await this.observer.start();
  }

  async close(): Promise<void> {
    setRunLogSource(undefined);
    this.observer?.stop();
    await this.kafkaLag?.close();
    await this.tracing?.close();
  }
}
