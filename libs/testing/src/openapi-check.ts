import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { REPO_ROOT } from './parley-process';

interface Operation {
  responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}
interface Route {
  method: string;
  pattern: RegExp;
  path: string;
  operation: Operation;
}

let routes: Route[] | undefined;
let ajv: Ajv2020 | undefined;
const validators = new Map<string, ValidateFunction>();

function load(): Route[] {
  if (routes) return routes;
  const document = JSON.parse(readFileSync(join(REPO_ROOT, 'docs', 'openapi.json'), 'utf8'));
  ajv = new Ajv2020({ strict: false, allErrors: false });
  addFormats(ajv);
  for (const [id, schema] of Object.entries(document.components.schemas))
    ajv.addSchema(schema as object, `#/components/schemas/${id}`);
  routes = [];
  for (const [path, methods] of Object.entries(document.paths as Record<string, Record<string, Operation>>)) {
    const pattern = new RegExp(`^${path.replace(/[.]/g, '\\.').replace(/\{\w+\}/g, '[^/]+')}$`);
    for (const [method, operation] of Object.entries(methods))
      routes.push({ method, pattern, path, operation });
  }
  return routes;
}

/**
 * Check an answer against docs/openapi.json: a documented route must answer a documented status, and
 * a JSON body must match that status's schema. Returns what is wrong, or undefined. Routes the
 * document does not describe (the console's files, /docs) are not checked.
 */
export function openApiViolation(
  method: string,
  url: string,
  status: number,
  contentType: string,
  body: unknown,
): string | undefined {
  const path = new URL(url, 'http://x').pathname;
  const route = load().find((r) => r.method === method.toLowerCase() && r.pattern.test(path));
  if (!route) return undefined;
  const answer = route.operation.responses[String(status)];
  if (!answer) return `${method} ${route.path} answered ${status}, which docs/openapi.json does not list`;
  if (!contentType.includes('application/json')) return undefined;
  const schema = answer.content?.['application/json']?.schema as { $ref?: string } | undefined;
  if (!schema?.$ref) return undefined;
  let validate = validators.get(schema.$ref);
  if (!validate) {
    validate = ajv!.compile({ $ref: schema.$ref });
    validators.set(schema.$ref, validate);
  }
  if (validate(body)) return undefined;
  const first = validate.errors?.[0];
  return `${method} ${route.path} ${status}: the answer does not match ${schema.$ref}: ${first?.instancePath || '/'} ${first?.message} ${first?.params ? JSON.stringify(first.params) : ''}`;
}
