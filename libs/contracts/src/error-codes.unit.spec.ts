import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ERROR_CODES, isErrorCode } from './error-codes';

const ROOT = join(__dirname, '..', '..', '..', '..');
const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');
/** Every `A.B` code in backticks (error codes are upper-case, dot-separated). */
const codesIn = (text: string): string[] => [
  ...new Set([...text.matchAll(/`([A-Z][A-Z_]*\.[A-Z][A-Z_0-9]*)`/g)].map((m) => m[1])),
];

describe('the error-code catalogue', () => {
  it('docs/ERRORS.md lists exactly the catalogue, in its order, with its meanings', () => {
    const rows = [...read('docs/ERRORS.md').matchAll(/^\| `([^`]+)` +\| (.+?) +\|$/gm)].map((m) => [
      m[1],
      m[2].replace(/\\\|/g, '|'),
    ]);
    assert.deepEqual(rows, Object.entries(ERROR_CODES));
  });

  it('every code README.md and docs/CLI.md name is in the catalogue (a typo there is found here)', () => {
    for (const file of ['README.md', 'docs/CLI.md', 'docs/WEBSOCKET.md', 'docs/AG-UI.md']) {
      const unknown = codesIn(read(file)).filter(
        (code) => !isErrorCode(code) && !/^(PARLEY|OPENAI|KAFKA)_/.test(code),
      );
      assert.deepEqual(unknown, [], `${file} names codes that are not in libs/contracts/src/error-codes.ts`);
    }
  });

  it('codes are NAMESPACE.NAME in upper case', () => {
    for (const code of Object.keys(ERROR_CODES)) assert.match(code, /^(INTERNAL|[A-Z_]+\.[A-Z_]+)$/);
  });
});
