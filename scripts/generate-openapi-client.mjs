#!/usr/bin/env node
// Generate TypeScript types for a client of the REST API from docs/openapi.json with openapi-typescript
// (use them with openapi-fetch, see examples/openapi-client/calls.ts):
//   npm run openapi:client [-- OUT_FILE]     default: examples/openapi-client/parley-api.d.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString } from 'openapi-typescript';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = resolve(process.argv[2] ?? join(root, 'examples', 'openapi-client', 'parley-api.d.ts'));
const document = JSON.parse(readFileSync(join(root, 'docs', 'openapi.json'), 'utf8'));
const ast = await openapiTS(document);
writeFileSync(
  out,
  `// Generated from docs/openapi.json by scripts/generate-openapi-client.mjs: do not edit.\n${astToString(ast)}`,
);
process.stderr.write(`[openapi] ${Object.keys(document.paths).length} paths → ${out}\n`);
