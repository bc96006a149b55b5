import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type GaugeConfiguration,
} from 'prom-client';

/** Model calls take from tens of milliseconds (a local model) to minutes (a long structured answer). */
const MODEL_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Tools: lookups in milliseconds, external calls in seconds. */
const TOOL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** A human answers in seconds, hours or days. */
const HUMAN_BUCKETS = [
  1,
  5,
  15,
  30,
  60,
  300,
  900,
  1800,
  3600,
  4 * 3600,
  12 * 3600,
  86_400,
  3 * 86_400,
  7 * 86_400,
];
/** An append: a group commit fsyncs (SQLite FULL) or waits for the brokers' acknowledgement (Kafka). */
const APPEND_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * Every metric of a Parley instance, in its own registry (never prom-client's global one, so two
 * servers in one process, as in tests, do not share counters). Labels are bounded: workflow, agent,
 * model and tool names come from the workflow files and the tools file, kinds, roles, outcomes and
 * statuses from closed lists; never a run id or a request id. docs/OBSERVABILITY.md lists them all.
 */
export class ParleyMetrics {
  readonly registry = new Registry();
  /** What each gauge is read from at scrape time (state-gauges.ts sets these once the core is up). */
  private readonly collectors = new Map<string, (gauge: Gauge) => void | Promise<void>>();

  /** A gauge whose value is computed when scraped, by the collector given to `collectWith`. */
  private gauge<L extends string>(config: GaugeConfiguration<L>): Gauge<L> {
    const collectors = this.collectors;
    return new Gauge<L>({
      ...config,
      collect(this: Gauge<L>) {
        return collectors.get(config.name)?.(this as unknown as Gauge);
      },
    });
  }

  /** What each counter read at scrape time is read from (state-gauges.ts sets these). */
  private readonly counted = new Map<string, () => number>();

  /** A counter kept elsewhere (the event log, the anchor file), read when scraped. */
  private countedElsewhere(name: string, help: string): Counter {
    const counted = this.counted;
    return new Counter({
      name,
      help,
      registers: [this.registry],
      collect(this: Counter) {
        const read = counted.get(name);
        if (!read) return;
        this.reset();
        this.inc(read());
      },
    });
  }

  /** Where a counter of `countedElsewhere` is read from. */
  countWith(counter: Counter, read: () => number): void {
    this.counted.set((counter as unknown as { name: string }).name, read);
  }

  collectWith<L extends string>(gauge: Gauge<L>, collect: (gauge: Gauge<L>) => void | Promise<void>): void {
    const name = (gauge as unknown as { name: string }).name;
    this.collectors.set(name, collect as unknown as (gauge: Gauge) => void | Promise<void>);
  }

  readonly runsStarted = new Counter({
    name: 'parley_runs_started_total',
    help: 'Runs started on this instance',
    labelNames: ['workflow'] as const,
    registers: [this.registry],
  });
  readonly runsFinished = new Counter({
    name: 'parley_runs_finished_total',
    help: 'Runs that ended on this instance: completed, failed or cancelled',
    labelNames: ['workflow', 'status'] as const,
    registers: [this.registry],
  });
  readonly runsActive = this.gauge({
    name: 'parley_runs_active',
    help: 'Runs this instance owns that have not ended, by status (running, waiting for a human)',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly modelCallDuration = new Histogram({
    name: 'parley_model_call_duration_seconds',
    help: 'Model calls, from model-call.started to model-call.completed (retries of the call included)',
    labelNames: ['workflow', 'agent', 'model'] as const,
    buckets: MODEL_BUCKETS,
    registers: [this.registry],
  });
  readonly modelTokens = new Counter({
    name: 'parley_model_tokens_total',
    help: 'Tokens the models reported: input (prompt) and output (completion)',
    labelNames: ['direction'] as const,
    registers: [this.registry],
  });
  readonly toolCallDuration = new Histogram({
    name: 'parley_tool_call_duration_seconds',
    help: 'Tool calls, from tool-call.started to tool-call.completed or .failed (outcome)',
    labelNames: ['tool', 'outcome'] as const,
    buckets: TOOL_BUCKETS,
    registers: [this.registry],
  });
  readonly humanRequestsOpen = this.gauge({
    name: 'parley_human_requests_open',
    help: 'Open human requests of the runs this instance owns, by kind and by each role that may answer',
    labelNames: ['kind', 'role'] as const,
    registers: [this.registry],
  });
  readonly humanRequestOldestAge = this.gauge({
    name: 'parley_human_request_oldest_age_seconds',
    help: 'Age of the oldest open human request, by kind (absent when none is open)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly humanWait = new Histogram({
    name: 'parley_human_wait_seconds',
    help: 'Human requests from opened to resolved (outcome: the decision), expired or closed',
    labelNames: ['kind', 'outcome'] as const,
    buckets: HUMAN_BUCKETS,
    registers: [this.registry],
  });
  readonly humanRequestsExpiring = this.gauge({
    name: 'parley_human_requests_expiring',
    help: 'Open human requests whose deadline is within the window (5m, 15m) or already past',
    labelNames: ['window'] as const,
    registers: [this.registry],
  });
  readonly appendDuration = new Histogram({
    name: 'parley_event_log_append_duration_seconds',
    help: 'Appends to the event log, from the call to the durable acknowledgement',
    labelNames: ['log'] as const,
    buckets: APPEND_BUCKETS,
    registers: [this.registry],
  });
  readonly eventLogCommits = this.countedElsewhere(
    'parley_event_log_commits_total',
    'Write transactions the SQLite event log committed (each one fsync with synchronous = FULL)',
  );
  readonly anchorWrites = this.countedElsewhere(
    'parley_anchor_writes_total',
    'Appends to the anchor file (signed run heads), each fsynced; one append may hold many heads',
  );
  readonly eventLogUnavailable = this.gauge({
    name: 'parley_event_log_unavailable',
    help: '1 while the event log is unreachable (new work is refused with 503), else 0',
    registers: [this.registry],
  });
  readonly kafkaConsumerLag = this.gauge({
    name: 'parley_kafka_consumer_lag',
    help: "Kafka mode: records of <prefix>.run-events not yet in this instance's local store",
    labelNames: ['partition'] as const,
    registers: [this.registry],
  });
  readonly kafkaOwnedPartitions = this.gauge({
    name: 'parley_kafka_owned_partitions',
    help: 'Kafka mode: partitions (and so runs) this instance owns',
    registers: [this.registry],
  });
  readonly socketClients = this.gauge({
    name: 'parley_socket_clients',
    help: 'Connected socket.io clients',
    registers: [this.registry],
  });
  readonly httpRequests = new Counter({
    name: 'parley_http_requests_total',
    help: 'HTTP requests answered, by route pattern (not the path: no ids) and status code',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'parley_' });
  }

  /** The text exposition format, and its content type. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
