import { accessSync, constants, mkdirSync, statSync, writeFileSync, unlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ChaosSettings } from '@parley/engine';
import { ConfigSchema, DEFAULT_CRASH_PROBABILITY, settingsOf, type ConfigEnv } from './config.schema';

/** A setting that stops the server: the message names the setting and says what is wrong. */
export class ConfigError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`${setting}: ${message}`);
    this.name = 'ConfigError';
  }
}

export interface ParleyConfig {
  port: number;
  host: string;
  dataDir: string;
  eventLog: 'sqlite' | 'kafka';
  /** The SQLite log's and the outbox's `synchronous` mode (PARLEY_SQLITE_SYNC). */
  sqliteSync: 'full' | 'normal';
  /** On SIGTERM/SIGINT, the bound on draining and closing before the process exits anyway. */
  shutdownTimeoutMs: number;
  /** The largest body POST /api/import reads. */
  importMaxBytes: number;
  /** The signing key's file (created there on first start when it is the default one). */
  signingKeyFile: string;
  /** Whether `signingKeyFile` was given (then it must exist) or is the default. */
  signingKeyGiven: boolean;
  /** Public keys whose exports an import accepts, besides this server's own. */
  trustedKeys: string[];
  /** Start although the log lost events its anchor stream knew of (after a repair). */
  acceptLostEvents: boolean;
  kafkaBrokers: string[];
  kafkaPartitions: number;
  kafkaReplicationFactor: number;
  /** Names the Kafka topics (`<prefix>.run-events`, `.commands`, `.replies`, `.tokens`) and the owners' group (`<prefix>-owners`). */
  kafkaTopicPrefix: string;
  /** The owners' consumer group: an instance silent this long loses its runs to the others. */
  kafkaSessionTimeoutMs: number;
  kafkaHeartbeatIntervalMs: number;
  /** Debug lines of the Kafka event log and the cluster. */
  kafkaDebug: boolean;
  /** How long a command routed to another instance may take before 503 CLUSTER.OWNER_UNAVAILABLE. */
  clusterCommandTimeoutMs: number;
  workflowsDir: string;
  /** The tools file; undefined: none (the shipped one is the default, when it is there). */
  toolsFile?: string;
  /** The shared refunds service (PARLEY_REFUNDS_URL); unset: the ledger in the data folder. */
  refundsUrl?: string;
  /** The model of every agent that names none; undefined: `offline`. */
  defaultModel?: string;
  /** The built console; undefined: dist/console of this checkout. */
  consoleDir?: string;
  /** An OpenAI-compatible endpoint; undefined: the offline model runs in-process. */
  llm?: { baseURL: string; apiKey: string };
  offlineTokenLatencyMs: number;
  adminToken?: string;
  tokensFile?: string;
  allowedOrigins: string[];
  instanceId: string;
  webhooks: string[];
  webhookSecret?: string;
  webhookBackoffMs: number;
  /** REST requests a second per client (bursts of twice that); 0: no limit. */
  httpRateLimit: number;
  /** Test only: crash (SIGKILL) at these engine step boundaries; undefined (the default) never. */
  chaos?: ChaosSettings & { action: 'kill' | 'pause' };
  /** GET /metrics needs this bearer token when set. */
  metricsToken?: string;
  /** Log lines: JSON (pino) or Nest's text; PARLEY_LOG_FORMAT, else JSON when stdout is not a terminal. */
  logFormat: 'json' | 'text';
  /** OpenTelemetry traces: on when an OTLP endpoint is set (the standard OTEL_* variables). */
  tracing?: TracingConfig;
}

export interface TracingConfig {
  /** The OTLP/HTTP traces URL. */
  url: string;
  protocol: 'http/protobuf' | 'http/json';
  serviceName: string;
  /** `service.instance.id`: the instance (PARLEY_INSTANCE_ID), which tells a cluster's exports apart. */
  instanceId: string;
  /** Tool call arguments and results on `execute_tool` spans. */
  captureContent: boolean;
}

/**
 * The configuration from the environment (config.schema.ts), or a ConfigError naming the first
 * setting that is wrong. The checks that need the disk (folders) run after the schema.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ParleyConfig {
  const settings = parseSettings(env);
  const dataDir = resolve(settings.PARLEY_DATA_DIR);
  ensureWritable(dataDir);
  const baseURL = settings.OPENAI_BASE_URL;
  const apiKey = settings.OPENAI_API_KEY;
  return {
    port: settings.PORT,
    host: settings.HOST,
    dataDir,
    eventLog: settings.PARLEY_EVENT_LOG,
    sqliteSync: settings.PARLEY_SQLITE_SYNC,
    shutdownTimeoutMs: settings.PARLEY_SHUTDOWN_TIMEOUT_MS,
    importMaxBytes: settings.PARLEY_IMPORT_MAX_BYTES,
    signingKeyFile: resolve(settings.PARLEY_SIGNING_KEY_FILE ?? resolve(dataDir, 'signing-key.pem')),
    signingKeyGiven: settings.PARLEY_SIGNING_KEY_FILE !== undefined,
    trustedKeys: settings.PARLEY_TRUSTED_KEYS,
    acceptLostEvents: settings.PARLEY_ACCEPT_LOST_EVENTS,
    kafkaBrokers: settings.PARLEY_EVENT_LOG === 'kafka' ? settings.KAFKA_BROKERS : [],
    kafkaPartitions: settings.PARLEY_KAFKA_PARTITIONS,
    kafkaReplicationFactor: settings.PARLEY_KAFKA_REPLICATION_FACTOR,
    kafkaTopicPrefix: settings.PARLEY_KAFKA_TOPIC_PREFIX,
    kafkaSessionTimeoutMs: settings.PARLEY_KAFKA_SESSION_TIMEOUT_MS,
    kafkaHeartbeatIntervalMs: settings.PARLEY_KAFKA_HEARTBEAT_MS,
    kafkaDebug: settings.PARLEY_KAFKA_DEBUG,
    clusterCommandTimeoutMs: settings.PARLEY_CLUSTER_COMMAND_TIMEOUT_MS,
    workflowsDir: workflowsDir(settings.PARLEY_WORKFLOWS_DIR),
    toolsFile: toolsFile(settings.PARLEY_TOOLS_FILE),
    refundsUrl: settings.PARLEY_REFUNDS_URL,
    defaultModel: settings.PARLEY_MODEL,
    consoleDir: settings.PARLEY_CONSOLE_DIR === undefined ? undefined : resolve(settings.PARLEY_CONSOLE_DIR),
    llm:
      baseURL || apiKey
        ? { baseURL: baseURL ?? 'https://api.openai.com/v1', apiKey: apiKey ?? 'not-needed' }
        : undefined,
    offlineTokenLatencyMs: settings.OFFLINE_MODEL_TOKEN_LATENCY_MS,
    adminToken: settings.PARLEY_ADMIN_TOKEN,
    tokensFile: settings.PARLEY_TOKENS_FILE,
    allowedOrigins: settings.PARLEY_ALLOWED_ORIGINS,
    instanceId: settings.PARLEY_INSTANCE_ID,
    webhooks: settings.PARLEY_WEBHOOKS,
    webhookSecret: settings.PARLEY_WEBHOOK_SECRET,
    webhookBackoffMs: settings.PARLEY_WEBHOOK_BACKOFF_MS,
    httpRateLimit: settings.PARLEY_HTTP_RATE_LIMIT,
    metricsToken: settings.PARLEY_METRICS_TOKEN,
    logFormat: settings.PARLEY_LOG_FORMAT ?? (process.stdout.isTTY ? 'text' : 'json'),
    tracing: tracingOf(settings, settings.PARLEY_INSTANCE_ID),
    chaos: settings.PARLEY_CHAOS_CRASH_POINTS && {
      points: settings.PARLEY_CHAOS_CRASH_POINTS,
      probability: settings.PARLEY_CHAOS_CRASH_PROBABILITY ?? DEFAULT_CRASH_PROBABILITY,
      seed: settings.PARLEY_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 32),
      action: settings.PARLEY_CHAOS_ACTION ?? 'kill',
    },
  };
}

/** Tracing is on when an OTLP endpoint is set and OTEL_TRACES_EXPORTER is not `none`. */
function tracingOf(settings: ConfigEnv, instanceId: string): TracingConfig | undefined {
  if (settings.OTEL_TRACES_EXPORTER === 'none') return undefined;
  const url =
    settings.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
    (settings.OTEL_EXPORTER_OTLP_ENDPOINT &&
      `${settings.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`);
  if (!url) return undefined;
  return {
    url,
    protocol: settings.OTEL_EXPORTER_OTLP_PROTOCOL,
    serviceName: settings.OTEL_SERVICE_NAME,
    instanceId,
    captureContent: settings.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT === 'true',
  };
}

/** The environment through the schema; the first issue is the ConfigError (one line, the setting named). */
export function parseSettings(env: NodeJS.ProcessEnv): ConfigEnv {
  const raw = settingsOf(env);
  const result = ConfigSchema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const setting = String(issue.path[0]);
  // zod's own checks say what the value must be; custom ones also say what it was.
  const message = issue.code === 'custom' ? issue.message : `${issue.message}, not "${raw[setting]}"`;
  throw new ConfigError(setting, message);
}

/** The workflows folder must exist: a wrong path (or a server started from another folder) is not 0 workflows. */
function workflowsDir(setting: string): string {
  const dir = resolve(setting);
  let isDirectory = false;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch {
    // missing: said below
  }
  if (!isDirectory) throw new ConfigError('PARLEY_WORKFLOWS_DIR', `${dir} is not a folder of workflow files`);
  return dir;
}

/** The tools file named must exist; the shipped default is used when it is there. */
function toolsFile(setting: string | undefined): string | undefined {
  const file = resolve(setting ?? DEFAULT_TOOLS_FILE);
  let isFile = false;
  try {
    isFile = statSync(file).isFile();
  } catch {
    // missing: said below
  }
  if (isFile) return file;
  if (setting === undefined) return undefined;
  throw new ConfigError('PARLEY_TOOLS_FILE', `${file} is not a file`);
}

export const DEFAULT_TOOLS_FILE = './tools/examples.tools.yaml';

function ensureWritable(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
    const probe = resolve(dir, `.write-probe-${process.pid}`);
    writeFileSync(probe, '');
    unlinkSync(probe);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigError('PARLEY_DATA_DIR', `cannot write to ${dir} (${reason})`);
  }
}

export const PARLEY_CONFIG = Symbol('PARLEY_CONFIG');
