import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { RequestMethod } from '@nestjs/common';
import { API_VERSION, ROUTES, openApiDocument } from '@parley/contracts';
import { HttpClient, ParleyProcess, REPO_ROOT, TEST_USERS } from '@parley/testing';
import { AppModule } from '../../../apps/server/src/app.module';

/** Every route a controller of the server serves, as `get /api/runs/{runId}`. */
function controllerRoutes(): string[] {
  const seen = new Set<unknown>();
  const routes: string[] = [];
  const visit = (module: unknown) => {
    if (!module || seen.has(module)) return;
    seen.add(module);
    const target = (module as { module?: unknown }).module ?? module;
    for (const imported of Reflect.getMetadata('imports', target as object) ?? []) visit(imported);
    for (const controller of Reflect.getMetadata('controllers', target as object) ?? []) {
      const base = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '');
      for (const key of Object.getOwnPropertyNames(controller.prototype)) {
        const handler = controller.prototype[key];
        if (key === 'constructor' || typeof handler !== 'function') continue;
        const path = Reflect.getMetadata(PATH_METADATA, handler);
        if (path === undefined) continue;
        const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as number].toLowerCase();
        const full = `/${[base, String(path)].filter((p) => p && p !== '/').join('/')}`
          .replace(/\/+/g, '/')
          .replace(/:(\w+)/g, '{$1}');
        routes.push(`${method} ${full === '/' ? '/' : full.replace(/\/$/, '')}`);
      }
    }
  };
  visit(AppModule);
  return routes;
}

/** The console's static files are not part of the API. */
const NOT_API = /^get \/console/;

describe('the OpenAPI document, generated from the route table', () => {
  let server: ParleyProcess;
  before(async () => {
    server = await ParleyProcess.start();
  });
  after(() => server?.dispose());

  it('lists every route a controller serves, and no route that none serves', () => {
    const served = controllerRoutes().filter((r) => !NOT_API.test(r));
    assert.ok(served.length >= 25, `found ${served.length} controller routes`);
    const documented = Object.values(ROUTES).map((r) => `${r.method} ${r.path}`);
    assert.deepEqual(
      served.filter((r) => !documented.includes(r)),
      [],
      'controller routes missing from libs/contracts/src/http/routes.ts',
    );
    assert.deepEqual(
      documented.filter((r) => !served.includes(r)),
      [],
      'documented routes nobody serves',
    );
  });

  it('is served at /docs-json exactly as written to docs/openapi.json, with schemas for bodies and answers', async () => {
    const file = JSON.parse(readFileSync(join(REPO_ROOT, 'docs', 'openapi.json'), 'utf8'));
    const served = await new HttpClient(server.url).get('/docs-json');
    assert.equal(served.status, 200);
    assert.deepEqual(served.body, file);
    assert.deepEqual(file, JSON.parse(JSON.stringify(openApiDocument(API_VERSION))));
    const start = file.paths['/api/runs'].post;
    assert.equal(
      start.requestBody.content['application/json'].schema.$ref,
      '#/components/schemas/StartRunBody',
    );
    assert.deepEqual(file.components.schemas.StartRunBody.required, ['workflow', 'input']);
    assert.equal(
      start.responses['400'].content['application/json'].schema.$ref,
      '#/components/schemas/ErrorBody',
    );
    const run = file.components.schemas.GetRunResponse;
    assert.ok(run.properties.pendingRequests && run.properties.transcript, 'the run view is described');
    const list = file.paths['/api/runs'].get.parameters.map((p: { name: string }) => p.name);
    assert.deepEqual(list.sort(), ['cursor', 'limit', 'q', 'status', 'workflow']);
    const docsPage = await fetch(`${server.url}/docs`);
    assert.equal(docsPage.status, 200);
    assert.match(await docsPage.text(), /swagger/i);
  });

  it('generates a typed client with openapi-typescript that compiles against real calls, which then run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-openapi-client-'));
    try {
      const generate = spawnSync(
        process.execPath,
        [join(REPO_ROOT, 'scripts', 'generate-openapi-client.mjs'), join(dir, 'parley-api.d.ts')],
        { encoding: 'utf8' },
      );
      assert.equal(generate.status, 0, generate.stderr);
      copyFileSync(join(REPO_ROOT, 'examples', 'openapi-client', 'calls.ts'), join(dir, 'calls.ts'));
      symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
      const tsc = spawnSync(
        process.execPath,
        [
          join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
          ...['--strict', '--module', 'commonjs', '--target', 'es2022', '--moduleResolution', 'node'],
          ...['--types', 'node', '--skipLibCheck', '--outDir', dir, join(dir, 'calls.ts')],
        ],
        { encoding: 'utf8', cwd: dir },
      );
      assert.equal(
        tsc.status,
        0,
        `the generated types do not compile with the calls:\n${tsc.stdout}${tsc.stderr}`,
      );
      const run = spawnSync(process.execPath, [join(dir, 'calls.js')], {
        encoding: 'utf8',
        env: {
          ...process.env,
          PARLEY_URL: server.url,
          PARLEY_TOKEN: TEST_USERS.carol.token,
          PARLEY_APPROVER_TOKEN: TEST_USERS.alice.token,
        },
        timeout: 60_000,
      });
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, /run .+ completed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
