import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { KafkaEventStore, type EventStore } from '@parley/event-store';
import {
  RunEngine,
  chaosCrashHook,
  pauseSelfOnce,
  sigkillSelf,
  type ModelGateway,
  type ToolRegistry,
} from '@parley/engine';
import { OpenAiModelGateway } from '@parley/llm';
import { startOfflineModelServer, type OfflineModelServer } from '@parley/model-offline';
import type { RunEvent } from '@parley/contracts';
import type { ParleyConfig } from '../config/config';
import { IdentityService } from '../auth/identity';
import { READ_MODEL_FILE, ReadModelCheckpoint } from '../projections/read-model-checkpoint';
import { RunsProjection } from '../projections/runs.projection';
import { LocalRefunds, RefundLedger, RefundsClient, type Refunds } from '@parley/refunds';
import { loadTools, type LoadedTools } from '../tools/tool-sources';
import { WorkflowCatalog } from '../workflows/workflow-catalog';
import { KafkaCluster } from '../cluster/kafka-cluster';
import { LocalOwnership, type Ownership } from '../cluster/ownership';
import { DataDirLock } from './data-dir-lock';
import { anchorsTopic, openEventLog, runEventsTopic } from './event-log.factory';
import { LiveTokens } from './live-tokens';
import { FileAnchorLog, type AnchorStream } from '../signing/anchor-log';
import { KafkaAnchorStream } from '../signing/kafka-anchor-stream';
import { HeadSigner } from '../signing/head-signer';
import { loadSigningKey, type SigningKey } from '../signing/signing-key';
import { Observability } from '../observability/observability';

/** Everything a Parley instance is made of, built once at start-up (plain classes; Nest wires them in). */
export interface ParleyCore {
  config: ParleyConfig;
  store: EventStore;
  tools: ToolRegistry;
  /** The tools file's tools: MCP servers and their state, providers; closed with the core. */
  toolSources: LoadedTools;
  /** The refunds the example tools made: the shared service (PARLEY_REFUNDS_URL) or the local ledger. */
  ledger: Refunds;
  workflows: WorkflowCatalog;
  models: ModelGateway;
  offline?: OfflineModelServer;
  engine: RunEngine;
  projection: RunsProjection;
  /** SQLite: the read model kept across a clean restart (read-model-checkpoint.ts). */
  readModel?: ReadModelCheckpoint;
  identity: IdentityService;
  liveTokens: LiveTokens;
  /** Which runs this instance may drive: all of them with SQLite; its assigned partitions with Kafka. */
  ownership: Ownership;
  /** Kafka mode only: ownership by consumer group, command routing, token fan-out. */
  cluster?: KafkaCluster;
  /** The server's signing key, and the signer of run heads (their anchor stream). */
  signingKey: SigningKey;
  signer: HeadSigner;
  /** Metrics (GET /metrics) and traces, derived from the log's new events. */
  observability: Observability;
  /** Set by the CQRS wiring: appended events the sagas listen to go to the EventBus from here. */
  publish: (events: RunEvent[]) => void;
  close(): Promise<void>;
}

/** What `main.ts` did before the rest of the server loaded: the folder's lock, the log's check begun. */
export interface EarlyStart {
  /** The data folder's lock, taken already (else `createCore` takes it). */
  lock?: DataDirLock;
  /** SQLite: `checkLogInWorker(config.dataDir)`, begun already; the store is opened when it has passed. */
  logCheck?: Promise<void>;
}

/** Everything a Parley instance is made of, on a data folder it alone serves (`DataDirLock`). */
export async function createCore(config: ParleyConfig, early: EarlyStart = {}): Promise<ParleyCore> {
  const lock = early.lock ?? DataDirLock.acquire(config.dataDir);
  try {
    const core = await assembleCore(config, early.logCheck);
    const close = core.close;
    core.close = async () => {
      try {
        await close();
      } finally {
        lock.release();
      }
    };
    return core;
  } catch (error) {
    lock.release();
    throw error;
  }
}

async function assembleCore(config: ParleyConfig, logCheck?: Promise<void>): Promise<ParleyCore> {
  const logger = new Logger('Parley');
  const engineLogger = new Logger('Engine');
  const log = (line: string): void => logger.log(line);
  const signingKey = loadSigningKey(config.signingKeyFile, config.signingKeyGiven);
  logger.log(
    `signing key ${signingKey.keyId}${signingKey.created ? ` created in ${signingKey.file}` : ` from ${signingKey.file}`}: ${signingKey.publicKey}`,
  );
  const identity = new IdentityService({
    dataDir: config.dataDir,
    adminToken: config.adminToken,
    tokensFile: config.tokensFile,
  });
  if (identity.notice) logger.warn(identity.notice);
  // The refunds as GET /api/refunds reads them; the example tools module opens its own connection.
  const ledger: Refunds = config.refundsUrl
    ? new RefundsClient(config.refundsUrl)
    : new LocalRefunds(new RefundLedger(config.dataDir));
  if (config.refundsUrl) logger.log(`refunds: the shared refunds service at ${config.refundsUrl}`);
  const toolSources = await loadTools({
    file: config.toolsFile,
    dataDir: config.dataDir,
    log,
    warn: (line) => logger.warn(line),
  }).catch((error: unknown) => {
    ledger.close();
    throw error;
  });
  const tools = toolSources.registry;
  logger.log(
    `${tools.names().length} tools${config.toolsFile ? ` from ${config.toolsFile}` : ' (no tools file)'}: ${tools.names().join(', ')}`,
  );
  let workflows: WorkflowCatalog;
  try {
    workflows = new WorkflowCatalog(tools, toolSources, { defaultModel: config.defaultModel }).loadDirectory(
      config.workflowsDir,
    );
  } catch (error) {
    await toolSources.close();
    ledger.close();
    throw error;
  }
  logger.log(
    `${workflows.list().length} workflows from ${config.workflowsDir}: ${workflows
      .list()
      .map((w) => w.name)
      .join(', ')}`,
  );

  let offline: OfflineModelServer | undefined;
  let provider = config.llm;
  if (!provider) {
    offline = await startOfflineModelServer({ tokenLatencyMs: config.offlineTokenLatencyMs });
    provider = { baseURL: offline.url, apiKey: 'offline' };
    logger.warn(
      `no model provider configured (OPENAI_BASE_URL / OPENAI_API_KEY): using the offline model in-process at ${offline.url}`,
    );
  } else {
    logger.log(`model provider: ${provider.baseURL}`);
  }
  const models = new OpenAiModelGateway({ defaultProvider: provider });

  const observability = new Observability(config, (line) => logger.warn(line));
  // SQLite: the anchor file is read (and its signatures checked) while the log's check may still
  // be running in its worker: it reads no event.
  const fileAnchors =
    config.eventLog === 'sqlite' ? new FileAnchorLog(join(config.dataDir, 'anchors.ndjson')) : undefined;
  if (fileAnchors?.notice) logger.warn(fileAnchors.notice);
  const store = await openEventLog(config, log, logCheck).catch(async (error: unknown) => {
    await fileAnchors?.close();
    throw error;
  });
  observability.instrumentStore(store);
  let signer: HeadSigner;
  try {
    let anchors: AnchorStream;
    if (store instanceof KafkaEventStore) {
      // one topic for the cluster: every instance checks the runs anchored by any other
      anchors = await KafkaAnchorStream.open({
        brokers: config.kafkaBrokers,
        instanceId: config.instanceId,
        topic: anchorsTopic(config.kafkaTopicPrefix),
        replicationFactor: config.kafkaReplicationFactor,
        log,
        warn: (line) => logger.warn(line),
      });
    } else {
      anchors = fileAnchors!;
    }
    signer = new HeadSigner(store, signingKey, anchors, (line) => logger.warn(line));
    await signer.checkAgainstAnchors(join(config.dataDir, 'events.db'), config.acceptLostEvents);
    await signer.start();
  } catch (error) {
    await store.close().catch(() => undefined);
    await toolSources.close();
    ledger.close();
    await offline?.close();
    throw error;
  }
  logger.log(
    `event log: ${config.eventLog}${config.eventLog === 'kafka' ? ` (${config.kafkaBrokers.join(',')})` : ` (${config.dataDir})`}`,
  );
  const liveTokens = new LiveTokens();
  if (config.chaos) {
    logger.warn(
      `CHAOS (test only): this process ${config.chaos.action === 'pause' ? 'pauses itself (SIGSTOP, once)' : 'SIGKILLs itself'} at ${config.chaos.points.join(', ')} with probability ${config.chaos.probability} (seed ${config.chaos.seed})`,
    );
  }
  let cluster: KafkaCluster | undefined;
  if (store instanceof KafkaEventStore) {
    try {
      cluster = await KafkaCluster.create({
        brokers: config.kafkaBrokers,
        instanceId: config.instanceId,
        prefix: config.kafkaTopicPrefix,
        store,
        writers: store,
        runEventsTopic: runEventsTopic(config.kafkaTopicPrefix),
        sessionTimeoutMs: config.kafkaSessionTimeoutMs,
        replicationFactor: config.kafkaReplicationFactor,
        heartbeatIntervalMs: config.kafkaHeartbeatIntervalMs,
        log: (line) => logger.log(line),
        warn: (line) => logger.warn(line),
        debug: config.kafkaDebug,
      });
    } catch (error) {
      await signer.stop().catch(() => undefined);
      await store.close().catch(() => undefined);
      throw error;
    }
  }
  const ownership: Ownership = cluster ?? new LocalOwnership();
  if (cluster) {
    // the owner of a run signs it; a run gained from a dead owner is signed here if it was not yet
    signer.signOnlyOwned((runId) => cluster.owns(runId));
    cluster.onGained(() => void signer.flushNow().catch(() => undefined));
  }
  const core: ParleyCore = {
    config,
    store,
    tools,
    toolSources,
    ledger,
    workflows,
    models,
    offline,
    identity,
    liveTokens,
    ownership,
    cluster,
    projection: new RunsProjection(store),
    readModel:
      store.kind === 'sqlite'
        ? new ReadModelCheckpoint(join(config.dataDir, READ_MODEL_FILE), signingKey)
        : undefined,
    signingKey,
    signer,
    observability,
    publish: () => undefined,
    engine: undefined as unknown as RunEngine,
    close: async () => {
      await cluster?.close(); // leave the owners' group first: the other instances take our runs at once
      await core.engine.stop();
      core.projection.stop();
      if (core.readModel && core.projection.started) {
        // the engine has stopped: what the projection applied is the state of a prefix of the log
        const t0 = Date.now();
        try {
          const state = core.projection.exportState();
          const { bytes } = core.readModel.save(state);
          logger.log(
            `read model kept in ${core.readModel.file} (${state.runs.length} runs at position ${state.position}, ${bytes} bytes, ${Date.now() - t0} ms)`,
          );
        } catch (error) {
          logger.warn(
            `read model: cannot write ${core.readModel.file} (${(error as Error).message}); the next start rebuilds it from the log`,
          );
        }
      }
      await signer.stop();
      await store.close();
      await toolSources.close();
      ledger.close();
      await offline?.close();
      await observability.close(); // last: the spans of the runs' last events are flushed
    },
  };
  core.engine = new RunEngine({
    store,
    models,
    tools,
    onAppended: (events) => core.publish(events),
    onToken: (runId, agent, delta) => {
      liveTokens.next({ runId, agent, delta });
      cluster?.publishToken({ runId, agent, delta });
    },
    // Kafka: a run's tokens are relayed to every instance, whose watchers this one cannot see
    tokensWatched: cluster ? () => true : (runId) => liveTokens.watched(runId),
    owns: (runId) => ownership.owns(runId),
    ownershipSettled: cluster ? () => cluster.settled(config.kafkaSessionTimeoutMs * 2) : undefined,
    log: (line) => logger.error(line),
    info: (line) => engineLogger.log(line),
    crashPoint: config.chaos
      ? chaosCrashHook(
          config.chaos,
          (config.chaos.action === 'pause' ? pauseSelfOnce : sigkillSelf)(
            join(config.dataDir, 'chaos-crashes.log'),
          ),
        )
      : undefined,
  });
  return core;
}
