import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after as afterAll, before, describe, it } from 'node:test';
import { ModelProxy, ParleyProcess, REPO_ROOT } from '@parley/testing';
import { startOfflineModelServer, type OfflineModelServer } from '@parley/model-offline';
import { events, startRun, waitForStatus } from '../patterns/helpers';
import { writeToolsFile } from './tools-kit';

/**
 * PARLEY_MODEL names the model of every agent that names none, and a tools file's named provider
 * is chosen per agent (`provider: alt`): each call goes to its provider with its model, as two real
 * HTTP proxies in front of the offline model see them.
 */
describe('models: PARLEY_MODEL and named providers', () => {
  let offline: OfflineModelServer;
  let main: ModelProxy;
  let alt: ModelProxy;
  before(async () => {
    offline = await startOfflineModelServer();
    main = await ModelProxy.start(offline.url);
    alt = await ModelProxy.start(offline.url);
  });
  afterAll(async () => {
    await main?.close();
    await alt?.close();
    await offline?.close();
  });

  it('an agent that names nothing gets PARLEY_MODEL on OPENAI_BASE_URL; `provider: alt` gets its URL and model', async () => {
    const toolsFile = writeToolsFile({
      providers: { alt: { baseURL: alt.url, apiKeyEnv: 'PARLEY_TEST_ALT_KEY', model: 'alt-model-1' } },
    });
    const server = await ParleyProcess.start({
      env: {
        PARLEY_TOOLS_FILE: toolsFile,
        PARLEY_WORKFLOWS_DIR: join(REPO_ROOT, 'test/fixtures/tools-models'),
        OPENAI_BASE_URL: main.url,
        OPENAI_API_KEY: 'main-key',
        PARLEY_MODEL: 'default-model-9',
        PARLEY_TEST_ALT_KEY: 'alt-key',
      },
    });
    try {
      const carol = server.client('carol');
      const runId = await startRun(carol, 'two-providers', 'Write a note about the outage');
      await waitForStatus(carol, runId, 'completed', 30_000);
      assert.deepEqual([...new Set(main.calls.map((c) => c.body.model))], ['default-model-9']);
      assert.deepEqual([...new Set(alt.calls.map((c) => c.body.model))], ['alt-model-1']);
      const started = (await events(carol, runId)).filter((e) => e.type === 'model-call.started');
      assert.deepEqual(
        started.map((e) => [e.data.agent, e.data.model]),
        [
          ['drafter', 'default-model-9'],
          ['checker', 'alt-model-1'],
        ],
      );
    } finally {
      await server.dispose();
    }
  });

  it('the shipped workflows use the default: OPENAI_BASE_URL, OPENAI_API_KEY and PARLEY_MODEL are all it takes', async () => {
    const from = main.calls.length;
    const server = await ParleyProcess.start({
      env: { OPENAI_BASE_URL: main.url, OPENAI_API_KEY: 'main-key', PARLEY_MODEL: 'shipped-default-2' },
    });
    try {
      const carol = server.client('carol');
      const runId = await startRun(carol, 'support-triage', 'My invoice is wrong');
      // triage has spoken (a model call) and its routing waits for an operator
      await waitForStatus(carol, runId, 'waiting', 30_000);
      const models = new Set(main.calls.slice(from).map((c) => c.body.model));
      assert.deepEqual([...models], ['shipped-default-2']);
    } finally {
      await server.dispose();
    }
  });

  it('with nothing set, agents use the offline model', async () => {
    const server = await ParleyProcess.start();
    try {
      const carol = server.client('carol');
      const runId = await startRun(carol, 'support-triage', 'My invoice is wrong');
      // triage has spoken (a model call) and its routing waits for an operator
      await waitForStatus(carol, runId, 'waiting', 30_000);
      const started = (await events(carol, runId)).filter((e) => e.type === 'model-call.started');
      assert.ok(started.length > 0);
      assert.ok(started.every((e) => e.data.model === 'offline'));
    } finally {
      await server.dispose();
    }
  });
});
