import { parseCrashPoints } from '@parley/engine';
import { z } from 'zod';

/**
 * Every setting of the server, read from the environment: one zod schema, the single source of
 * truth for names, types, ranges, defaults and their descriptions (README's "Configuration" table
 * is checked against it by config.unit.spec.ts). Messages are worded to follow the setting's name:
 * zod's own checks (type, range, choice) say what the value must be, and loadConfig adds what it
 * was (`PORT: must be an integer from 0 to 65535, not "eighty"`); custom checks word it all.
 */

/** An integer setting from `min` to `max`, one message for every way it can be wrong. */
const integer = (min: number, max: number) => {
  const error = `must be an integer from ${min} to ${max}`;
  return z.coerce.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};

/** A comma-separated list; blank items are dropped. */
const list = () =>
  z
    .string()
    .transform((raw) =>
      raw
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean),
    )
    .default([]);

const isHttpUrl = (text: string): boolean => {
  if (!URL.canParse(text)) return false;
  const { protocol } = new URL(text);
  return protocol === 'http:' || protocol === 'https:';
};

/** The default of a setting as README shows it, when the loader computes it (no zod default). */
export interface SettingMeta {
  shownDefault?: string;
}

export const DEFAULT_CRASH_PROBABILITY = 0.05;

export const ConfigSchema = z
  .object({
    PORT: integer(0, 65535).default(3000).describe('the port to listen on (0: any free port)'),
    HOST: z.string().default('0.0.0.0').describe('the address to listen on'),
    PARLEY_DATA_DIR: z
      .string()
      .default('./data')
      .describe('event log (SQLite), refunds ledger, admin token; must be writable'),
    PARLEY_EVENT_LOG: z
      .enum(['sqlite', 'kafka'], { error: 'must be "sqlite" or "kafka"' })
      .default('sqlite')
      .describe('the event log: `sqlite` (one instance) or `kafka` (several)'),
    PARLEY_IMPORT_MAX_BYTES: integer(1024, 10 * 1024 * 1024 * 1024)
      .default(64 * 1024 * 1024)
      .describe('the largest NDJSON body POST /api/import reads (413 REQUEST.TOO_LARGE beyond it)'),
    PARLEY_SHUTDOWN_TIMEOUT_MS: integer(100, 600_000)
      .default(10_000)
      .describe('on SIGTERM/SIGINT: the longest the server drains work and closes its logs before it exits'),
    PARLEY_SQLITE_SYNC: z
      .enum(['full', 'normal'], { error: 'must be "full" or "normal"' })
      .default('full')
      .describe(
        'SQLite commits: `full` fsyncs each (an acknowledged event survives a power cut); `normal` may lose the last ones on power loss',
      ),
    KAFKA_BROKERS: list().describe('the Kafka brokers, `host:port,...` (with PARLEY_EVENT_LOG=kafka)'),
    PARLEY_INSTANCE_ID: z
      .string()
      .default(() => `parley-${process.pid}`)
      .meta({ shownDefault: 'parley-<pid>' } satisfies SettingMeta)
      .describe('names this instance (Kafka client id, its local store folder); unique per instance'),
    PARLEY_KAFKA_TOPIC_PREFIX: z
      .string()
      .superRefine((prefix, ctx) => {
        if (!/^[A-Za-z0-9._-]{1,100}$/.test(prefix))
          ctx.addIssue({
            code: 'custom',
            message: `"${prefix}" must be 1-100 letters, digits, ".", "_" or "-"`,
          });
      })
      .default('parley')
      .describe('names the Kafka topics (`<prefix>.run-events`, `.commands` ...) and the owners group'),
    PARLEY_KAFKA_PARTITIONS: integer(1, 1000)
      .default(12)
      .describe('partitions of `<prefix>.run-events` and `.commands` when created'),
    PARLEY_KAFKA_SESSION_TIMEOUT_MS: integer(1000, 300_000)
      .default(10_000)
      .describe('an instance silent this long loses its runs to the others'),
    PARLEY_KAFKA_HEARTBEAT_MS: integer(100, 60_000).default(1000).describe("heartbeat of the owners' group"),
    PARLEY_KAFKA_DEBUG: z
      .string()
      .optional()
      .transform((raw) => raw !== undefined)
      .describe("any value: the Kafka event log's and the cluster's debug lines in the server log"),
    PARLEY_CLUSTER_COMMAND_TIMEOUT_MS: integer(1000, 600_000)
      .default(30_000)
      .describe('a command routed to another instance answers 503 CLUSTER.OWNER_UNAVAILABLE after this'),
    PARLEY_WORKFLOWS_DIR: z
      .string()
      .default('./workflows')
      .describe('the folder of workflow files; must exist'),
    PARLEY_TOOLS_FILE: z
      .string()
      .optional()
      .meta({ shownDefault: 'tools/examples.tools.yaml' } satisfies SettingMeta)
      .describe('the tools file (YAML or JSON): MCP servers, HTTP tools, tool modules, model providers'),
    PARLEY_REFUNDS_URL: z
      .string()
      .superRefine((url, ctx) => {
        if (!/^https?:\/\//.test(url) || !URL.canParse(url))
          ctx.addIssue({ code: 'custom', message: `"${url}" is not an http(s) URL` });
      })
      .optional()
      .describe(
        'the shared refunds service of the example tools (npm run refunds:start); unset: a ledger in the data folder',
      ),
    PARLEY_MODEL: z
      .string()
      .optional()
      .meta({ shownDefault: 'offline' } satisfies SettingMeta)
      .describe('the model of every agent that names none (and whose provider names none)'),
    PARLEY_CONSOLE_DIR: z
      .string()
      .optional()
      .meta({ shownDefault: 'dist/console' } satisfies SettingMeta)
      .describe('the built web console served at /console (scripts/build-console.mjs writes dist/console)'),
    OPENAI_BASE_URL: z
      .string()
      .superRefine((url, ctx) => {
        if (!URL.canParse(url)) ctx.addIssue({ code: 'custom', message: `"${url}" is not a URL` });
      })
      .optional()
      .describe('an OpenAI-compatible endpoint; unset (and no OPENAI_API_KEY): the offline model'),
    OPENAI_API_KEY: z.string().optional().describe('the API key of OPENAI_BASE_URL (default: OpenAI)'),
    OFFLINE_MODEL_TOKEN_LATENCY_MS: integer(0, 10_000)
      .default(0)
      .describe('per-token delay of the offline model'),
    PARLEY_TOKENS_FILE: z.string().optional().describe('the identities file (tokens and roles)'),
    PARLEY_ADMIN_TOKEN: z
      .string()
      .optional()
      .describe('the admin token (default: generated in the data folder)'),
    PARLEY_ALLOWED_ORIGINS: list().describe("browser origins allowed besides the server's own (WebSocket)"),
    PARLEY_WEBHOOKS: list()
      .superRefine((hooks, ctx) => {
        const bad = hooks.find((hook) => !isHttpUrl(hook));
        if (bad !== undefined) ctx.addIssue({ code: 'custom', message: `"${bad}" is not an http(s) URL` });
      })
      .describe('http(s) URLs notified of human requests'),
    PARLEY_WEBHOOK_SECRET: z.string().optional().describe('HMAC-SHA256 key of the webhook signature'),
    PARLEY_WEBHOOK_BACKOFF_MS: integer(1, 600_000)
      .default(1000)
      .describe('first retry delay of a failed webhook (exponential)'),
    PARLEY_HTTP_RATE_LIMIT: integer(0, 1_000_000)
      .default(1000)
      .describe('REST requests a second per client, bursts of twice that; 0: no limit'),
    PARLEY_CHAOS_CRASH_POINTS: z
      .string()
      .transform((raw, ctx) => {
        try {
          return parseCrashPoints(raw);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: (error as Error).message });
          return z.NEVER;
        }
      })
      .optional()
      .describe('test only: crash (SIGKILL) at these engine step boundaries, or `all`'),
    PARLEY_CHAOS_ACTION: z
      .enum(['kill', 'pause'], { error: 'must be kill or pause' })
      .optional()
      .meta({ shownDefault: 'kill' } satisfies SettingMeta)
      .describe(
        'test only: at a crash point, SIGKILL, or pause once (SIGSTOP itself; the test sends SIGCONT)',
      ),
    // Optional, not defaulted: set without crash points, they are a mistake (checked below).
    PARLEY_CHAOS_CRASH_PROBABILITY: z.coerce
      .number({ error: 'must be a number above 0 and at most 1' })
      .gt(0, { error: 'must be a number above 0 and at most 1' })
      .max(1, { error: 'must be a number above 0 and at most 1' })
      .optional()
      .meta({ shownDefault: String(DEFAULT_CRASH_PROBABILITY) } satisfies SettingMeta)
      .describe('test only: the chance of a crash at each crash point'),
    PARLEY_CHAOS_SEED: integer(0, 2 ** 32 - 1)
      .optional()
      .meta({ shownDefault: 'random' } satisfies SettingMeta)
      .describe('test only: seeds the draws, so a crash sequence can be replayed'),
  })
  .superRefine((env, ctx) => {
    if (env.PARLEY_EVENT_LOG === 'kafka') {
      const path = ['KAFKA_BROKERS'];
      if (env.KAFKA_BROKERS.length === 0)
        ctx.addIssue({
          code: 'custom',
          path,
          message: 'must list the brokers (host:port,...) when PARLEY_EVENT_LOG=kafka',
        });
      const bad = env.KAFKA_BROKERS.find((broker) => !/^[^:\s]+:\d{1,5}$/.test(broker));
      if (bad !== undefined) ctx.addIssue({ code: 'custom', path, message: `"${bad}" is not host:port` });
    }
    if (env.PARLEY_CHAOS_CRASH_POINTS === undefined) {
      for (const name of [
        'PARLEY_CHAOS_CRASH_PROBABILITY',
        'PARLEY_CHAOS_SEED',
        'PARLEY_CHAOS_ACTION',
      ] as const) {
        if (env[name] !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: [name],
            message: 'has no effect without PARLEY_CHAOS_CRASH_POINTS (test only)',
          });
      }
    }
  });

export type ConfigEnv = z.output<typeof ConfigSchema>;

/** The environment as the schema reads it: values trimmed, a blank value is an unset one. */
export function settingsOf(env: NodeJS.ProcessEnv): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const name of Object.keys(ConfigSchema.shape)) {
    const value = env[name]?.trim();
    if (value) settings[name] = value;
  }
  return settings;
}
