import type { EventStore } from '@parley/event-store';
import type { RunsProjection } from '../../projections/runs.projection';
import type { ParleyMetrics } from './parley-metrics';

/** The windows of `parley_human_requests_expiring`: a deadline within 5 or 15 minutes (or past). */
export const EXPIRY_WINDOWS = [
  { label: '5m', seconds: 300 },
  { label: '15m', seconds: 900 },
] as const;

export interface GaugeSources {
  projection: RunsProjection;
  store: EventStore;
  owns: (runId: string) => boolean;
  /** Kafka mode: the owned partitions and the consumer lag per partition. */
  kafka?: { ownedPartitions: () => number; lag: () => Promise<Record<number, number>> };
  socketClients: () => number;
  /** SQLite mode: the log's commits and the anchor file's writes. */
  commits?: () => number;
  anchorWrites?: () => number;
  now?: () => number;
}

/**
 * The gauges are read at scrape time from what the instance already holds (the read model, the log's
 * reachability, the owners' group): nothing to keep in step. Only runs this instance owns count, so
 * a sum over the instances of a cluster is the cluster's figure.
 */
export function registerStateGauges(metrics: ParleyMetrics, sources: GaugeSources): void {
  const now = sources.now ?? Date.now;
  metrics.collectWith(metrics.runsActive, (gauge) => {
    gauge.reset();
    const counts = { running: 0, waiting: 0 };
    for (const run of sources.projection.listRuns()) {
      if ((run.status === 'running' || run.status === 'waiting') && sources.owns(run.runId))
        counts[run.status] += 1;
    }
    for (const [status, count] of Object.entries(counts)) gauge.set({ status }, count);
  });
  // one pass over the open requests feeds the four request gauges
  metrics.collectWith(metrics.humanRequestsOpen, (gauge) => {
    const open = sources.projection
      .listRequests({ status: 'open' })
      .filter((request) => sources.owns(request.runId));
    const t = now();
    gauge.reset();
    metrics.humanRequestOldestAge.reset();
    metrics.humanRequestsExpiring.reset();
    const oldest = new Map<string, number>();
    const expiring = EXPIRY_WINDOWS.map(() => 0);
    for (const request of open) {
      for (const role of request.roles) gauge.inc({ kind: request.kind, role });
      const opened = Date.parse(request.createdAt);
      oldest.set(request.kind, Math.min(oldest.get(request.kind) ?? opened, opened));
      if (request.deadline) {
        const left = (Date.parse(request.deadline) - t) / 1000;
        EXPIRY_WINDOWS.forEach((window, i) => {
          if (left <= window.seconds) expiring[i] += 1;
        });
      }
    }
    for (const [kind, opened] of oldest)
      metrics.humanRequestOldestAge.set({ kind }, Math.max(0, (t - opened) / 1000));
    EXPIRY_WINDOWS.forEach((window, i) =>
      metrics.humanRequestsExpiring.set({ window: window.label }, expiring[i]),
    );
  });
  metrics.collectWith(metrics.eventLogUnavailable, (gauge) => {
    gauge.set(sources.store.reachabilityStatus().reachable ? 0 : 1);
  });
  if (sources.commits) metrics.countWith(metrics.eventLogCommits, sources.commits);
  if (sources.anchorWrites) metrics.countWith(metrics.anchorWrites, sources.anchorWrites);
  metrics.collectWith(metrics.socketClients, (gauge) => {
    gauge.set(sources.socketClients());
  });
  const kafka = sources.kafka;
  if (kafka) {
    metrics.collectWith(metrics.kafkaOwnedPartitions, (gauge) => {
      gauge.set(kafka.ownedPartitions());
    });
    metrics.collectWith(metrics.kafkaConsumerLag, async (gauge) => {
      const lag = await kafka.lag().catch(() => undefined);
      gauge.reset();
      if (lag) for (const [partition, records] of Object.entries(lag)) gauge.set({ partition }, records);
    });
  }
}
