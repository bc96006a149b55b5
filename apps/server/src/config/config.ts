import { accessSync, constants, mkdirSync, statSync, writeFileSync, unlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseCrashPoints, type ChaosSettings } from '@parley/engine';

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
  kafkaBrokers: string[];
  kafkaPartitions: number;
  /** Names the Kafka topics (`<prefix>.run-events`, `.commands`, `.replies`, `.tokens`) and the owners' group (`<prefix>-owners`). */
  kafkaTopicPrefix: string;
  /** The owners' consumer group: an instance silent this long loses its runs to the others. */
  kafkaSessionTimeoutMs: number;
  kafkaHeartbeatIntervalMs: number;
  /** How long a command routed to another instance may take before 503 CLUSTER.OWNER_UNAVAILABLE. */
  clusterCommandTimeoutMs: number;
  workflowsDir: string;
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
  chaos?: ChaosSettings;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): ParleyConfig {
  const port = integer(env, 'PORT', 3000, 0, 65535);
  const eventLog = (env.PARLEY_EVENT_LOG ?? 'sqlite').trim();
  if (eventLog !== 'sqlite' && eventLog !== 'kafka') {
    throw new ConfigError('PARLEY_EVENT_LOG', `must be "sqlite" or "kafka", not "${eventLog}"`);
  }
  const kafkaBrokers = (eventLog === 'kafka' ? (env.KAFKA_BROKERS ?? '') : '')
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  if (eventLog === 'kafka' && kafkaBrokers.length === 0) {
    throw new ConfigError(
      'KAFKA_BROKERS',
      'must list the brokers (host:port,...) when PARLEY_EVENT_LOG=kafka',
    );
  }
  for (const broker of kafkaBrokers) {
    if (!/^[^:\s]+:\d{1,5}$/.test(broker))
      throw new ConfigError('KAFKA_BROKERS', `"${broker}" is not host:port`);
  }
  const webhooks = (env.PARLEY_WEBHOOKS ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  for (const hook of webhooks) {
    try {
      const url = new URL(hook);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)');
    } catch {
      throw new ConfigError('PARLEY_WEBHOOKS', `"${hook}" is not an http(s) URL`);
    }
  }
  const dataDir = resolve(env.PARLEY_DATA_DIR ?? 'data');
  ensureWritable(dataDir);
  const baseURL = env.OPENAI_BASE_URL?.trim();
  const apiKey = env.OPENAI_API_KEY?.trim();
  if (baseURL) {
    try {
      new URL(baseURL);
    } catch {
      throw new ConfigError('OPENAI_BASE_URL', `"${baseURL}" is not a URL`);
    }
  }
  return {
    port,
    host: env.HOST ?? '0.0.0.0',
    dataDir,
    eventLog,
    kafkaBrokers,
    kafkaPartitions: integer(env, 'PARLEY_KAFKA_PARTITIONS', 12, 1, 1000),
    kafkaTopicPrefix: topicPrefix(env),
    kafkaSessionTimeoutMs: integer(env, 'PARLEY_KAFKA_SESSION_TIMEOUT_MS', 10_000, 1000, 300_000),
    kafkaHeartbeatIntervalMs: integer(env, 'PARLEY_KAFKA_HEARTBEAT_MS', 1000, 100, 60_000),
    clusterCommandTimeoutMs: integer(env, 'PARLEY_CLUSTER_COMMAND_TIMEOUT_MS', 30_000, 1000, 600_000),
    workflowsDir: workflowsDir(env),
    llm:
      baseURL || apiKey
        ? { baseURL: baseURL ?? 'https://api.openai.com/v1', apiKey: apiKey ?? 'not-needed' }
        : undefined,
    offlineTokenLatencyMs: integer(env, 'OFFLINE_MODEL_TOKEN_LATENCY_MS', 0, 0, 10_000),
    adminToken: env.PARLEY_ADMIN_TOKEN?.trim() || undefined,
    tokensFile: env.PARLEY_TOKENS_FILE?.trim() || undefined,
    allowedOrigins: (env.PARLEY_ALLOWED_ORIGINS ?? '')
      .split(',')
      .map((o) => o.trim())
      .filter(Boolean),
    instanceId: env.PARLEY_INSTANCE_ID ?? `parley-${process.pid}`,
    webhooks,
    webhookSecret: env.PARLEY_WEBHOOK_SECRET?.trim() || undefined,
    webhookBackoffMs: integer(env, 'PARLEY_WEBHOOK_BACKOFF_MS', 1000, 1, 600_000),
    httpRateLimit: integer(env, 'PARLEY_HTTP_RATE_LIMIT', 1000, 0, 1_000_000),
    chaos: chaosSettings(env),
  };
}

/** Test only (docs/RELIABILITY.md §1): unset `PARLEY_CHAOS_CRASH_POINTS`, no chaos at all. */
function chaosSettings(env: NodeJS.ProcessEnv): ChaosSettings | undefined {
  const raw = env.PARLEY_CHAOS_CRASH_POINTS?.trim();
  if (!raw) {
    for (const name of ['PARLEY_CHAOS_CRASH_PROBABILITY', 'PARLEY_CHAOS_SEED']) {
      if (env[name]?.trim())
        throw new ConfigError(name, 'has no effect without PARLEY_CHAOS_CRASH_POINTS (test only)');
    }
    return undefined;
  }
  let points: ChaosSettings['points'];
  try {
    points = parseCrashPoints(raw);
  } catch (error) {
    throw new ConfigError('PARLEY_CHAOS_CRASH_POINTS', (error as Error).message);
  }
  const rawProbability = env.PARLEY_CHAOS_CRASH_PROBABILITY?.trim();
  const probability = rawProbability ? Number(rawProbability) : 0.05;
  if (!Number.isFinite(probability) || probability <= 0 || probability > 1) {
    throw new ConfigError(
      'PARLEY_CHAOS_CRASH_PROBABILITY',
      `must be a number above 0 and at most 1, not "${rawProbability}"`,
    );
  }
  const seed = env.PARLEY_CHAOS_SEED?.trim()
    ? integer(env, 'PARLEY_CHAOS_SEED', 0, 0, 2 ** 32 - 1)
    : Math.floor(Math.random() * 2 ** 32);
  return { points, probability, seed };
}

/** The workflows folder must exist: a wrong path (or a server started from another folder) is not 0 workflows. */
function workflowsDir(env: NodeJS.ProcessEnv): string {
  const dir = resolve(env.PARLEY_WORKFLOWS_DIR?.trim() || 'workflows');
  let isDirectory = false;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch {
    // missing: said below
  }
  if (!isDirectory) throw new ConfigError('PARLEY_WORKFLOWS_DIR', `${dir} is not a folder of workflow files`);
  return dir;
}

function topicPrefix(env: NodeJS.ProcessEnv): string {
  const prefix = (env.PARLEY_KAFKA_TOPIC_PREFIX ?? 'parley').trim();
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(prefix)) {
    throw new ConfigError(
      'PARLEY_KAFKA_TOPIC_PREFIX',
      `"${prefix}" must be 1-100 letters, digits, ".", "_" or "-"`,
    );
  }
  return prefix;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(name, `must be an integer from ${min} to ${max}, not "${raw}"`);
  }
  return value;
}

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
