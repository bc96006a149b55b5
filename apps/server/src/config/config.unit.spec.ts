import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '@parley/testing';
import type { z } from 'zod';
import { ConfigError, parseSettings } from './config';
import { ConfigSchema, type SettingMeta } from './config.schema';

/** README's "Configuration" table: variable → the default it shows (backticks removed). */
function readmeTable(): Map<string, string> {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## Configuration$/m)[1]?.split(/^## /m)[0];
  assert.ok(section, 'README.md has a "## Configuration" section');
  const rows = new Map<string, string>();
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    if (cells.length < 4 || !cells[1].startsWith('`')) continue; // not a row of variables
    const names = [...cells[1].matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1]);
    assert.ok(names.length > 0, `a row of variables: ${line}`);
    for (const name of names) rows.set(name, cells[2].replace(/`/g, ''));
  }
  return rows;
}

/** The default of a setting as README should show it: the zod default, or what the loader computes. */
function shownDefault(schema: z.ZodType): string {
  const meta = schema.meta() as SettingMeta | undefined;
  if (meta?.shownDefault !== undefined) return meta.shownDefault;
  if (schema.def.type !== 'default') return '';
  const value = (schema.def as unknown as { defaultValue: unknown }).defaultValue;
  return Array.isArray(value) ? value.join(',') : String(value);
}

function refusal(env: Record<string, string>): string {
  try {
    parseSettings(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.message;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

describe('config: the schema and README', () => {
  it('every setting has a description', () => {
    for (const [name, schema] of Object.entries(ConfigSchema.shape)) {
      assert.ok(schema.description?.trim(), `${name} has a .describe() text`);
    }
  });

  it("README's Configuration table lists every setting with its default, and nothing else", () => {
    const table = readmeTable();
    const settings = ConfigSchema.shape as Record<string, z.ZodType>;
    assert.deepEqual(
      [...table.keys()].filter((name) => !(name in settings)),
      [],
      'variables in README that the schema does not read',
    );
    assert.deepEqual(
      Object.keys(settings).filter((name) => !table.has(name)),
      [],
      'settings missing from README',
    );
    for (const [name, schema] of Object.entries(settings)) {
      assert.equal(table.get(name), shownDefault(schema), `the default of ${name}`);
    }
  });
});

describe('config: parsing the environment', () => {
  it('applies the defaults; blank values are unset; KAFKA_BROKERS counts only with kafka', () => {
    const settings = parseSettings({ PORT: ' ', KAFKA_BROKERS: 'not a broker list', PARLEY_WEBHOOKS: '' });
    assert.equal(settings.PORT, 3000);
    assert.equal(settings.PARLEY_EVENT_LOG, 'sqlite');
    assert.equal(settings.PARLEY_KAFKA_TOPIC_PREFIX, 'parley');
    assert.equal(settings.PARLEY_INSTANCE_ID, `parley-${process.pid}`);
    assert.deepEqual(settings.PARLEY_WEBHOOKS, []);
    assert.equal(settings.PARLEY_KAFKA_DEBUG, false);
    assert.equal(settings.PARLEY_CHAOS_CRASH_POINTS, undefined);
  });

  it('coerces and splits values', () => {
    const settings = parseSettings({
      PORT: ' 8080 ',
      PARLEY_EVENT_LOG: 'kafka',
      KAFKA_BROKERS: 'a:9092, b:9093,',
      PARLEY_KAFKA_DEBUG: '1',
      PARLEY_CHAOS_CRASH_POINTS: 'all',
      PARLEY_CHAOS_CRASH_PROBABILITY: '0.5',
      PARLEY_CHAOS_SEED: '7',
    });
    assert.equal(settings.PORT, 8080);
    assert.deepEqual(settings.KAFKA_BROKERS, ['a:9092', 'b:9093']);
    assert.equal(settings.PARLEY_KAFKA_DEBUG, true);
    assert.ok(settings.PARLEY_CHAOS_CRASH_POINTS && settings.PARLEY_CHAOS_CRASH_POINTS.length > 1);
    assert.equal(settings.PARLEY_CHAOS_CRASH_PROBABILITY, 0.5);
    assert.equal(settings.PARLEY_CHAOS_SEED, 7);
  });

  it('refuses a bad setting with one line naming it', () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ PARLEY_EVENT_LOG: 'postgres' }, 'PARLEY_EVENT_LOG: must be "sqlite" or "kafka", not "postgres"'],
      [{ PORT: 'eighty' }, 'PORT: must be an integer from 0 to 65535, not "eighty"'],
      [{ PORT: '70000' }, 'PORT: must be an integer from 0 to 65535, not "70000"'],
      [
        { PARLEY_KAFKA_PARTITIONS: '1.5' },
        'PARLEY_KAFKA_PARTITIONS: must be an integer from 1 to 1000, not "1.5"',
      ],
      [
        { PARLEY_EVENT_LOG: 'kafka' },
        'KAFKA_BROKERS: must list the brokers (host:port,...) when PARLEY_EVENT_LOG=kafka',
      ],
      [
        { PARLEY_EVENT_LOG: 'kafka', KAFKA_BROKERS: 'a:1,nohostport' },
        'KAFKA_BROKERS: "nohostport" is not host:port',
      ],
      [{ PARLEY_WEBHOOKS: 'https://ok.example,ftp://x' }, 'PARLEY_WEBHOOKS: "ftp://x" is not an http(s) URL'],
      [{ OPENAI_BASE_URL: 'localhost' }, 'OPENAI_BASE_URL: "localhost" is not a URL'],
      [
        { PARLEY_KAFKA_TOPIC_PREFIX: 'a b' },
        'PARLEY_KAFKA_TOPIC_PREFIX: "a b" must be 1-100 letters, digits, ".", "_" or "-"',
      ],
      [
        { PARLEY_CHAOS_CRASH_POINTS: 'all', PARLEY_CHAOS_CRASH_PROBABILITY: '0' },
        'PARLEY_CHAOS_CRASH_PROBABILITY: must be a number above 0 and at most 1, not "0"',
      ],
      [
        { PARLEY_CHAOS_SEED: '7' },
        'PARLEY_CHAOS_SEED: has no effect without PARLEY_CHAOS_CRASH_POINTS (test only)',
      ],
    ];
    for (const [env, message] of cases) assert.equal(refusal(env), message);
    assert.match(
      refusal({ PARLEY_CHAOS_CRASH_POINTS: 'before-tool,after-lunch' }),
      /^PARLEY_CHAOS_CRASH_POINTS: "after-lunch" is not a crash point/,
    );
  });
});
