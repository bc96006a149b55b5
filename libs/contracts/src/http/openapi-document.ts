import { z } from 'zod';
import { ERROR_CODES } from '../error-codes';
import { ErrorBody } from './api.schemas';
import { ROUTES, type RouteSpec } from './routes';

type JsonSchema = Record<string, unknown>;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const pascal = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/**
 * The OpenAPI 3.1 document of the REST API, generated from the route table and its zod schemas (one
 * definition): request bodies and answers are components, parameters come from the params and query
 * schemas, and every error answer is `ErrorBody`.
 */
export function openApiDocument(version: string, routes: Record<string, RouteSpec> = ROUTES) {
  const inputs = z.registry<{ id: string }>();
  const outputs = z.registry<{ id: string }>();
  const named = new Map<z.ZodType, string>();
  const name = (registry: typeof inputs, schema: z.ZodType, id: string) => {
    const key = `${registry === inputs ? 'in' : 'out'}`;
    const seen = named.get(schema);
    if (seen?.startsWith(key)) return seen.slice(key.length + 1);
    if (!registry.has(schema)) registry.add(schema, { id });
    named.set(schema, `${key}:${id}`);
    return id;
  };
  outputs.add(ErrorBody, { id: 'ErrorBody' });
  named.set(ErrorBody, 'out:ErrorBody');

  const paths: Record<string, Record<string, unknown>> = {};
  for (const [operationId, route] of Object.entries(routes)) {
    const parameters = [...paramsOf(route.params, 'path'), ...paramsOf(route.query, 'query')];
    const responses: Record<string, unknown> = {};
    for (const [status, answer] of Object.entries(route.responses)) {
      const contentType = answer.contentType ?? 'application/json';
      const schema =
        answer.schema && contentType === 'application/json'
          ? ref(name(outputs, answer.schema, `${pascal(operationId)}Response`))
          : { type: 'string' };
      responses[status] = { description: answer.description, content: { [contentType]: { schema } } };
    }
    const errorStatuses = new Set([
      400,
      ...(route.role === 'public' ? [] : [401, 403]),
      429,
      503, // the event log or its storage is unavailable (EVENT_LOG.UNAVAILABLE, EVENT_STORE.UNAVAILABLE)
      ...(route.errors ?? []),
    ]);
    for (const status of [...errorStatuses].sort()) {
      responses[String(status)] ??= {
        description: ERROR_DESCRIPTIONS[status] ?? 'an error',
        content: { 'application/json': { schema: ref('ErrorBody') } },
      };
    }
    const operation: Record<string, unknown> = {
      operationId,
      summary: route.summary,
      tags: [route.tag],
      ...(route.role === 'public' ? { security: [] } : { 'x-parley-role': route.role }),
      ...(parameters.length ? { parameters } : {}),
      responses,
    };
    if (route.body) {
      const contentType = route.bodyContentType ?? 'application/json';
      operation.requestBody = {
        required: contentType !== 'application/json' || !acceptsEmpty(route.body),
        content: {
          [contentType]: {
            schema:
              contentType === 'application/json'
                ? ref(name(inputs, route.body, `${pascal(operationId)}Body`))
                : { type: 'string' },
          },
        },
      };
    }
    (paths[route.path] ??= {})[route.method] = operation;
  }

  const uri = (id: string) => `#/components/schemas/${id}`;
  const components = {
    ...strip(
      z.toJSONSchema(inputs, { target: 'draft-2020-12', io: 'input', uri, unrepresentable: 'any' }).schemas,
    ),
    ...strip(
      z.toJSONSchema(outputs, { target: 'draft-2020-12', io: 'output', uri, unrepresentable: 'any' }).schemas,
    ),
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Parley',
      version,
      description:
        'Event-sourced multi-agent orchestration with humans in the loop. Every error answer is ' +
        `ErrorBody {error: {code, message, field?}}; the codes (${Object.keys(ERROR_CODES).length}) are listed in docs/ERRORS.md.`,
    },
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: Object.fromEntries(Object.entries(components).sort(([a], [b]) => a.localeCompare(b))),
    },
  };
}
export type OpenApiDocument = ReturnType<typeof openApiDocument>;

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'bad input: the error names the field and why',
  401: 'no or unknown bearer token',
  403: "the token's roles may not do this",
  404: 'no such run, request or workflow',
  409: 'a conflict with the run or request as it is now',
  413: 'the body is too large',
  429: 'too many requests',
  503: 'the event log is unavailable',
};

function acceptsEmpty(schema: z.ZodType): boolean {
  return schema.safeParse({}).success;
}

function paramsOf(schema: z.ZodObject | undefined, where: 'path' | 'query') {
  if (!schema) return [];
  return Object.entries(schema.shape).map(([key, field]) => {
    const json = z.toJSONSchema(field as z.ZodType, {
      target: 'draft-2020-12',
      io: 'input',
      unrepresentable: 'any',
    }) as JsonSchema;
    delete json.$schema;
    return {
      name: key,
      in: where,
      required: where === 'path' || !(field as z.ZodType).safeParse(undefined).success,
      schema: json,
    };
  });
}

function strip(schemas: Record<string, JsonSchema>): Record<string, JsonSchema> {
  return Object.fromEntries(
    Object.entries(schemas).map(([id, s]) => {
      const { $schema: _s, $id: _i, ...rest } = s;
      return [id, rest];
    }),
  );
}
