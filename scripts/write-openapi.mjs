#!/usr/bin/env node
// Write docs/openapi.json from the route table in libs/contracts (run by `npm run build` and by
// `npm test` after tsc). The server serves the same document at /docs-json.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const { openApiDocument, API_VERSION } = require(join(root, 'dist/libs/contracts/src/index.js'));
const file = join(root, 'docs', 'openapi.json');
const text = `${JSON.stringify(openApiDocument(API_VERSION), null, 2)}\n`;
let before = '';
try {
  before = readFileSync(file, 'utf8');
} catch {
  // not written yet
}
if (before !== text) {
  writeFileSync(file, text);
  process.stderr.write('[openapi] docs/openapi.json written\n');
}
