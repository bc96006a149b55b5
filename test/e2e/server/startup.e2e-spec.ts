import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { HttpClient, ParleyProcess, REPO_ROOT } from '@parley/testing';

/** Start the server expecting it to refuse: returns what it printed. */
async function refusal(env: Record<string, string>, options: { tokens?: boolean } = {}): Promise<string> {
  const error = await ParleyProcess.start({ env, tokens: options.tokens }).then(
    async (server) => {
      await server.dispose();
      throw new Error('the server started, but it should have refused');
    },
    (e: Error) => e,
  );
  return error.message;
}

describe('server start-up', () => {
  it('answers /health with the event log kind, and needs no Kafka, no API key, no token file', async () => {
    const server = await ParleyProcess.start({ tokens: false });
    try {
      const health = await new HttpClient(server.url).get('/health');
      assert.equal(health.status, 200);
      assert.equal(health.body.status, 'ok');
      assert.equal(health.body.eventLog, 'sqlite');
      assert.equal(health.body.memory, undefined, 'no process figures without a token');
      const admin = readFileSync(join(server.dataDir, 'admin-token'), 'utf8').trim();
      const signedIn = await new HttpClient(server.url, admin).get('/health');
      assert.ok(signedIn.body.memory.rss > 0, 'memory figures with a valid token');
      const badToken = await new HttpClient(server.url, 'not-a-token').get('/health');
      assert.equal(badToken.status, 200);
      assert.equal(badToken.body.memory, undefined);
      assert.match(server.output.join(''), /using the offline model in-process/);
      assert.match(server.output.join(''), /admin token is in .*admin-token/);
      const anonymous = await new HttpClient(server.url).get('/api/runs');
      assert.equal(anonymous.status, 401);
      assert.equal(anonymous.body.error.code, 'AUTH.MISSING_TOKEN');
      const docs = await new HttpClient(server.url).get('/docs-json');
      assert.equal(docs.status, 200);
      assert.ok(docs.body.paths['/api/runs']);
    } finally {
      await server.dispose();
    }
  });

  it('stops with one clear line naming the setting for an unknown event log', async () => {
    const message = await refusal({ PARLEY_EVENT_LOG: 'postgres' });
    assert.match(
      message,
      /parley: cannot start: PARLEY_EVENT_LOG: must be "sqlite" or "kafka", not "postgres"/,
    );
    assert.doesNotMatch(message, /\n\s+at /, 'no stack trace');
  });

  it('stops with a clear message for unreachable brokers', async () => {
    const message = await refusal({ PARLEY_EVENT_LOG: 'kafka', KAFKA_BROKERS: '127.0.0.1:1' });
    assert.match(
      message,
      /parley: cannot start: KAFKA_BROKERS: cannot use the Kafka event log at 127\.0\.0\.1:1/,
    );
    assert.doesNotMatch(message, /\n\s+at /);
  });

  it('stops with a clear message for a malformed broker list or a missing one', async () => {
    assert.match(
      await refusal({ PARLEY_EVENT_LOG: 'kafka', KAFKA_BROKERS: 'nohostport' }),
      /KAFKA_BROKERS: "nohostport" is not host:port/,
    );
    assert.match(
      await refusal({ PARLEY_EVENT_LOG: 'kafka', KAFKA_BROKERS: '' }),
      /KAFKA_BROKERS: must list the brokers/,
    );
  });

  it('a second server on the same data folder stops at once, naming the folder and the first one; a killed one leaves it free', async () => {
    const first = await ParleyProcess.start();
    try {
      const started = Date.now();
      const error = await ParleyProcess.start({ dataDir: first.dataDir }).then(
        async (second) => {
          await second.stop();
          return new Error('a second server started on the same folder');
        },
        (e: Error) => e,
      );
      assert.match(
        error.message,
        new RegExp(
          `PARLEY_DATA_DIR: .*${first.dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is in use by another Parley server \\(pid ${first.child.pid},`,
        ),
      );
      assert.ok(Date.now() - started < 15_000, 'refused at start-up, not after a hang');
      assert.equal((await first.client().get('/health')).status, 200, 'the first one serves on');
      await first.kill(); // SIGKILL: its lock stays behind, naming a process that is gone
      const again = await ParleyProcess.start({ dataDir: first.dataDir });
      await again.stop();
    } finally {
      await first.dispose();
    }
  });

  it('stops with a clear message for an unwritable data dir', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'parley-ro-'));
    const file = join(parent, 'not-a-dir');
    writeFileSync(file, 'x');
    try {
      const message = await refusal({ PARLEY_DATA_DIR: join(file, 'data') }, { tokens: false });
      assert.match(message, /parley: cannot start: PARLEY_DATA_DIR: cannot write to .*not-a-dir\/data/);
      chmodSync(parent, 0o755);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it('stops with a clear message for a bad port and for a bad workflow file', async () => {
    assert.match(await refusal({ PORT: 'eighty' }), /PORT: must be an integer from 0 to 65535, not "eighty"/);
    const dir = mkdtempSync(join(tmpdir(), 'parley-wf-'));
    try {
      assert.match(
        await refusal({ PARLEY_WORKFLOWS_DIR: join(dir, 'missing') }),
        /parley: cannot start: PARLEY_WORKFLOWS_DIR: .*missing is not a folder of workflow files/,
      );
      writeFileSync(
        join(dir, 'broken.yaml'),
        'name: broken\npattern: sequential\nstages: []\nagents:\n  - name: a\n    system: hi\n',
      );
      const message = await refusal({ PARLEY_WORKFLOWS_DIR: dir });
      assert.match(message, /broken\.yaml: stages: /);
      writeFileSync(
        join(dir, 'broken.yaml'),
        'name: broken\npattern: single-agent\nagent: ghost\nagents:\n  - name: a\n    system: hi\n',
      );
      assert.match(
        await refusal({ PARLEY_WORKFLOWS_DIR: dir }),
        /broken\.yaml: agent: no agent named "ghost"/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ships valid example workflows', async () => {
    assert.ok(REPO_ROOT.length > 0);
    const server = await ParleyProcess.start();
    try {
      const { body } = await server.client('victor').get('/api/workflows');
      assert.deepEqual(
        body.workflows.map((w: { name: string; pattern: string }) => `${w.name}:${w.pattern}`).sort(),
        [
          'content-pipeline:sequential',
          'debate:group-chat',
          'incident-response:magentic',
          'market-analysis:concurrent',
          'press-release-auto:maker-checker',
          'press-release:maker-checker',
          'refund-desk:single-agent',
          'support-triage:handoff',
        ],
      );
    } finally {
      await server.dispose();
    }
  });
});
