import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import fc from 'fast-check';
import type { z } from 'zod';
import {
  CancelBody,
  DecisionBody,
  ExportRangeQuery,
  ForkBody,
  HandoffBody,
  ListRequestsQuery,
  ListRunsQuery,
  MessageBody,
  StartRunBody,
  StateQuery,
} from '@parley/contracts';
import {
  ODD_ACCEPTS,
  WRONG_CONTENT_TYPES,
  encodeLoose,
  deepJsonText,
  invalidOf,
  isJsonBody,
  isPlainObject,
  jsonRoundTrip,
  malformedJson,
  queryStringOf,
  shapeOf,
  unknownId,
  validOf,
} from './arbitraries';
import { Tally, assertFuzz } from './fuzz-config';
import {
  assertCoded4xx,
  assertUntouched,
  lastPosition,
  send,
  startFuzzTarget,
  type FuzzTarget,
} from './harness';

/** A REST route that takes a JSON body; `id` is the run or request it names, if any. */
interface BodyRoute {
  name: string;
  path: (id: string) => string;
  schema: z.ZodType;
  id: 'run' | 'request' | null;
  /** Valid-shaped bodies that must still name nothing (e.g. an unknown workflow). */
  valid?: fc.Arbitrary<unknown>;
  /** The least role is above viewer: a viewer gets 403 before the body is read. */
  participant: boolean;
}

const BODY_ROUTES: BodyRoute[] = [
  {
    name: 'POST /api/runs',
    path: () => '/api/runs',
    schema: StartRunBody,
    id: null,
    valid: validOf(StartRunBody).map((v) => ({
      ...(v as object),
      workflow: `no-such-${(v as { workflow: string }).workflow}`,
    })),
    participant: true,
  },
  {
    name: 'POST /api/runs/:id/cancel',
    path: (id) => `/api/runs/${id}/cancel`,
    schema: CancelBody,
    id: 'run',
    participant: true,
  },
  {
    name: 'POST /api/runs/:id/messages',
    path: (id) => `/api/runs/${id}/messages`,
    schema: MessageBody,
    id: 'run',
    participant: true,
  },
  {
    name: 'POST /api/runs/:id/handoff',
    path: (id) => `/api/runs/${id}/handoff`,
    schema: HandoffBody,
    id: 'run',
    participant: true,
  },
  {
    name: 'POST /api/runs/:id/fork',
    path: (id) => `/api/runs/${id}/fork`,
    schema: ForkBody,
    id: 'run',
    participant: true,
  },
  {
    name: 'POST /api/requests/:id/decision',
    path: (id) => `/api/requests/${id}/decision`,
    schema: DecisionBody,
    id: 'request',
    participant: false,
  },
];

const QUERY_ROUTES: Array<{ name: string; path: (t: FuzzTarget) => string; schema: z.ZodType }> = [
  { name: 'GET /api/runs?', path: () => '/api/runs', schema: ListRunsQuery },
  { name: 'GET /api/requests?', path: () => '/api/requests', schema: ListRequestsQuery },
  { name: 'GET /api/export?', path: () => '/api/export', schema: ExportRangeQuery },
  { name: 'GET /api/runs/:id/state?', path: (t) => `/api/runs/${t.runId}/state`, schema: StateQuery },
];

const GET_BY_ID = [
  (id: string) => `/api/runs/${id}`,
  (id: string) => `/api/runs/${id}/events`,
  (id: string) => `/api/runs/${id}/verify`,
  (id: string) => `/api/runs/${id}/state`,
  (id: string) => `/api/runs/${id}/audit`,
  (id: string) => `/api/runs/${id}/export`,
  (id: string) => `/api/requests/${id}`,
];

/** A path segment for an id; ids that cannot be encoded (lone surrogates) go as broken escapes. */
function segment(id: string): string {
  return encodeLoose(id);
}

/** One generated request and what it must get (beyond "a coded 4xx, nothing appended"). */
interface RestCase {
  kind: string;
  method: string;
  path: string;
  body?: string;
  headers: Record<string, string>;
  user?: 'admin' | 'victor' | null;
  check?: (status: number, error: { code: string; field?: string }) => void;
}

const JSON_TYPE = { 'content-type': 'application/json' };

function restCases(t: FuzzTarget): fc.Arbitrary<RestCase> {
  const existingOr = (kind: 'run' | 'request' | null): fc.Arbitrary<string> =>
    kind === null
      ? fc.constant('')
      : fc.oneof(fc.constant(segment(kind === 'run' ? t.runId : t.requestId)), unknownId().map(segment));
  const rawSegments = fc.constantFrom('%', '%zz', '%E0%A4%A', '%ED%A0%80', '%00', '..%2F..%2Fhealth', '%2F');

  // a schema-invalid body, at a real or an unknown id: 400 naming the field
  const invalidBody = fc.constantFrom(...BODY_ROUTES).chain((route) =>
    fc
      .tuple(existingOr(route.id), invalidOf(route.schema, route.valid ?? validOf(route.schema)))
      .map(([id, body]): RestCase => ({
        kind: `invalid body ${route.name}`,
        method: 'POST',
        path: route.path(id),
        body: JSON.stringify(body),
        headers: JSON_TYPE,
        check: (status, error) => {
          assert.equal(status, 400);
          const sent = jsonRoundTrip(body);
          // body-parser is strict: a bare null, number or string is not a JSON body at all
          if (sent === null || typeof sent !== 'object') assert.equal(error.code, 'REQUEST.INVALID_JSON');
          else assert.equal(error.code, 'REQUEST.INVALID_BODY');
          if (isPlainObject(sent)) assert.ok(error.field, 'the error names the field');
        },
      })),
  );

  // a valid-shaped body aimed at nothing: 404 (a fork of an unknown run: 400 RUN.NOT_FOUND)
  const unknownTarget = fc.constantFrom(...BODY_ROUTES).chain((route) =>
    fc
      .tuple(route.id ? unknownId().map(segment) : fc.constant(''), route.valid ?? validOf(route.schema))
      .map(([id, body]): RestCase => ({
        kind: `unknown id ${route.name}`,
        method: 'POST',
        path: route.path(id),
        body: JSON.stringify(body),
        headers: JSON_TYPE,
        check: (status, error) => {
          // an id that is not UTF-8 once decoded cannot name anything: 400 before any lookup
          if (id.includes('%ED%A0%80'))
            return assert.deepEqual([status, error.code], [400, 'HTTP.BAD_REQUEST']);
          assert.match(error.code, /(RUN|REQUEST|WORKFLOW)\.NOT_FOUND$/);
          assert.ok(status === 404 || (status === 400 && route.name.endsWith('fork')), `status ${status}`);
        },
      })),
  );

  // valid JSON nested far deeper than any payload may be (a stack overflow in the hash, once)
  const deepBody = fc.constantFrom(...BODY_ROUTES).chain((route) =>
    fc
      .tuple(
        existingOr(route.id),
        fc.constantFrom(...Object.keys(shapeOf(route.schema))),
        fc.integer({ min: 65, max: 16_000 }), // 6 bytes a level: under 100 KB
        fc.constantFrom<'array' | 'object'>('array', 'object'),
      )
      .map(([id, field, depth, kind]): RestCase => ({
        kind: `deep JSON ${route.name}`,
        method: 'POST',
        path: route.path(id),
        body: deepJsonText(field, depth, kind),
        headers: JSON_TYPE,
        check: (status, error) => {
          assert.deepEqual([status, error.code], [400, 'REQUEST.INVALID_BODY']);
          assert.ok(error.field, 'the error names the field');
        },
      })),
  );

  const claimUnknown = fc
    .tuple(unknownId().map(segment), fc.option(fc.jsonValue({ maxDepth: 2 })))
    .map(([id, body]): RestCase => ({
      kind: 'unknown id POST /api/requests/:id/claim',
      method: 'POST',
      path: `/api/requests/${id}/claim`,
      body: body === null ? undefined : JSON.stringify(body),
      headers: body === null ? {} : JSON_TYPE,
    }));

  const bodyPaths = fc.oneof(
    fc.constantFrom(...BODY_ROUTES).chain((route) => existingOr(route.id).map((id) => route.path(id))),
    fc.constant(`/api/requests/${segment(t.requestId)}/claim`),
  );

  // not JSON at all, or JSON body-parser refuses: 400 (the body is never looked at further)
  const badJson = fc
    .tuple(bodyPaths, malformedJson(fc.jsonValue({ maxDepth: 2 })))
    .map(([path, body]): RestCase => ({
      kind: 'malformed JSON',
      method: 'POST',
      path,
      body,
      headers: JSON_TYPE,
      check: (status, error) => {
        assert.equal(status, 400);
        assert.match(error.code, /^REQUEST\.INVALID_(JSON|BODY)$/);
      },
    }));

  // a JSON-looking body under another content type, charset or encoding: 415 (or 400 for broken gzip)
  const wrongType = fc
    .tuple(
      bodyPaths,
      fc.oneof(
        fc.constantFrom(...WRONG_CONTENT_TYPES).map((type) => ({ 'content-type': type })),
        fc
          .constantFrom('latin1', 'utf-16', 'ebcdic', 'x')
          .map((cs) => ({ 'content-type': `application/json; charset=${cs}` })),
        fc
          .constantFrom('compress', 'br', 'gzip', 'deflate', 'x-unknown')
          .map((enc) => ({ ...JSON_TYPE, 'content-encoding': enc })),
      ),
      fc.jsonValue({ maxDepth: 2 }),
    )
    .map(([path, headers, body]): RestCase => ({
      kind: `wrong content type (${Object.values(headers).join(' ')})`,
      method: 'POST',
      path,
      body: JSON.stringify(body) ?? 'null',
      headers,
      check: (status) => assert.ok([400, 415].includes(status), `status ${status}`),
    }));

  const badQuery = fc.constantFrom(...QUERY_ROUTES).chain((route) =>
    queryStringOf(route.schema).map((qs): RestCase => ({
      kind: `bad query ${route.name}`,
      method: 'GET',
      path: `${route.path(t)}?${qs}`,
      headers: {},
      check: (status, error) => {
        assert.equal(status, 400);
        assert.equal(error.code, 'REQUEST.INVALID_QUERY');
        assert.ok(error.field, 'the error names the query parameter');
      },
    })),
  );

  const beyondHead = fc.integer({ min: 1, max: 2 ** 40 }).map((n): RestCase => ({
    kind: 'state beyond the head',
    method: 'GET',
    path: `/api/runs/${t.runId}/state?at=${t.position + n + 1000}`,
    headers: {},
    check: (status, error) =>
      assert.deepEqual([status, error.code, error.field], [400, 'REPLAY.BEYOND_HEAD', 'at']),
  }));

  const unknownGet = fc
    .tuple(
      fc.constantFrom(...GET_BY_ID),
      fc.oneof(unknownId().map(segment), rawSegments),
      fc.constantFrom(...ODD_ACCEPTS),
    )
    .map(([path, id, accept]): RestCase => ({
      kind: 'GET unknown id',
      method: 'GET',
      path: path(id),
      headers: accept ? { accept } : {},
    }));

  const wrongMethod = fc
    .tuple(fc.constantFrom('PUT', 'PATCH', 'DELETE'), bodyPaths)
    .map(([method, path]): RestCase => ({
      kind: `${method} on a POST route`,
      method,
      path,
      headers: {},
      check: (s) => assert.equal(s, 404),
    }));

  // the role is checked before the body: a viewer gets 403, no token 401, whatever the body
  const refusedUser = fc
    .tuple(
      fc.constantFrom(...BODY_ROUTES.filter((r) => r.participant)),
      fc.constantFrom<'victor' | null>('victor', null),
      fc.oneof(
        fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
        malformedJson(fc.constant({})),
      ),
    )
    .chain(([route, user, body]) =>
      existingOr(route.id).map((id): RestCase => ({
        kind: `${user ?? 'no token'} on ${route.name}`,
        method: 'POST',
        path: route.path(id),
        body,
        headers: JSON_TYPE,
        user,
        check: (status, error) => {
          // a body that is not JSON is refused by the body parser, before the guard runs
          if (error.code === 'REQUEST.INVALID_JSON' && !isJsonBody(body)) return;
          if (user) assert.deepEqual([status, error.code], [403, 'AUTH.ROLE_REQUIRED']);
          else assert.equal(status, 401);
        },
      })),
    );

  return fc
    .oneof(
      { arbitrary: invalidBody, weight: 6 },
      { arbitrary: unknownTarget, weight: 3 },
      { arbitrary: deepBody, weight: 2 },
      { arbitrary: claimUnknown, weight: 1 },
      { arbitrary: badJson, weight: 3 },
      { arbitrary: wrongType, weight: 2 },
      { arbitrary: badQuery, weight: 3 },
      { arbitrary: beyondHead, weight: 1 },
      { arbitrary: unknownGet, weight: 2 },
      { arbitrary: wrongMethod, weight: 1 },
      { arbitrary: refusedUser, weight: 1 },
    )
    .map(printable);
}

/** How a counterexample is printed when a property fails. */
function printable(c: RestCase): RestCase {
  return Object.assign(c, {
    [fc.toStringMethod]: () =>
      `${c.kind} | ${c.user === undefined ? 'admin' : c.user} | ${c.method} ${c.path.slice(0, 300)} | ${JSON.stringify(c.headers)} | ${String(c.body).slice(0, 300)}`,
  });
}

/** NDJSON imports that must not import: garbage, and a real export with one character changed. */
function importCases(exported: string): fc.Arbitrary<{ kind: string; body: string }> {
  return fc.oneof(
    fc
      .array(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 80 }),
          fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? ''),
        ),
        { maxLength: 6 },
      )
      .map((lines) => ({ kind: 'garbage lines', body: lines.join('\n') })),
    fc
      .tuple(
        fc.nat({ max: exported.length - 1 }),
        fc.string({ minLength: 1, maxLength: 1, unit: 'binary-ascii' }),
      )
      .map(([at, ch]) => ({
        kind: 'a real export, one character changed',
        body: exported.slice(0, at) + ch + exported.slice(at + 1),
      })),
    fc.constant({ kind: 'a real export of a run that exists', body: exported }),
    fc
      .nat({ max: exported.length })
      .map((n) => ({ kind: 'a real export, truncated', body: exported.slice(0, n) })),
  );
}

/** The REST fuzz suite: every body, query and id route; imports; then a control that must fail. */
export function restFuzzSuite(runs: { requests: number; imports: number }): void {
  let t: FuzzTarget;
  const tally = new Tally();
  before(async () => {
    t = await startFuzzTarget();
  });
  after(async () => {
    process.stdout.write(`${tally.report('REST bad input, by status and code')}\n`);
    await t?.server.dispose();
  });

  it('every bad REST input gets a coded 4xx, the server stays up, nothing is appended', async () => {
    await assertFuzz(
      'REST bad input',
      fc.asyncProperty(restCases(t), async (c) => {
        const before = await lastPosition(t.server);
        const answer = await send(t, c.method, c.path, { body: c.body, headers: c.headers, user: c.user });
        const error = assertCoded4xx(
          answer,
          `${c.kind}: ${c.method} ${c.path.slice(0, 200)} ${String(c.body).slice(0, 200)}`,
        );
        tally.add(`${answer.status} ${error.code}`);
        // an id that does not decode to UTF-8 is refused by the router, before the body is looked at
        const undecodable = c.path.includes('%ED%A0%80') && error.code === 'HTTP.BAD_REQUEST';
        if (!undecodable) c.check?.(answer.status, error);
        await assertUntouched(t, c.kind, before);
      }),
      runs.requests,
    );
    await assertUntouched(t, 'after the REST batch');
  });

  it('imports that do not verify, or name runs that exist, import nothing', async () => {
    const exported = await send(t, 'GET', `/api/runs/${t.runId}/export`);
    assert.equal(exported.status, 200);
    await assertFuzz(
      'bad imports',
      fc.asyncProperty(importCases(exported.text), async (c) => {
        const before = await lastPosition(t.server);
        const answer = await send(t, 'POST', '/api/import', {
          body: c.body,
          headers: { 'content-type': 'application/x-ndjson' },
        });
        const error = assertCoded4xx(answer, `${c.kind}: ${c.body.slice(0, 300)}`);
        tally.add(`${answer.status} ${error.code} (import)`);
        assert.match(error.code, /^IMPORT\.(NOT_VERIFIED|RUN_EXISTS|UNSIGNED|UNTRUSTED_KEY|FORGED)$/);
        await assertUntouched(t, c.kind, before);
      }),
      runs.imports,
    );
  });

  it('control: a valid input does append, and the same checks notice it', async () => {
    const answer = await send(t, 'POST', '/api/runs', {
      body: JSON.stringify({ workflow: 'content-pipeline', input: 'control' }),
      headers: JSON_TYPE,
    });
    assert.equal(answer.status, 201);
    tally.add(`${answer.status} (control)`);
    await assert.rejects(assertUntouched(t, 'control'), /nothing appended/);
  });
}
