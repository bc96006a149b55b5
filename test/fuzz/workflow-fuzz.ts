import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import fc from 'fast-check';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { durationMs } from '@parley/contracts';
import { ParleyProcess, REPO_ROOT } from '@parley/testing';
import { exampleTools } from '../../apps/server/src/tools/example-tools';
import { LocalRefunds, RefundLedger } from '@parley/refunds';
import { WorkflowFileError, parseWorkflowFile } from '../../apps/server/src/workflows/workflow-catalog';
import { PROTO_KEYS, anyText, badValue, withOwn } from './arbitraries';
import { Tally, assertFuzz } from './fuzz-config';

const SHIPPED = readdirSync(join(REPO_ROOT, 'workflows'))
  .filter((f) => /\.ya?ml$/.test(f))
  .map((f) => ({
    file: `workflows/${f}`,
    raw: parseYaml(readFileSync(join(REPO_ROOT, 'workflows', f), 'utf8')) as unknown,
  }));

/** Every path (as keys) inside a parsed YAML document. */
function pathsOf(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  if (Array.isArray(value)) return [prefix, ...value.flatMap((v, i) => pathsOf(v, [...prefix, i]))];
  if (value !== null && typeof value === 'object')
    return [prefix, ...Object.entries(value).flatMap(([k, v]) => pathsOf(v, [...prefix, k]))];
  return [prefix];
}

function mutate(
  doc: unknown,
  path: Array<string | number>,
  how: 'set' | 'delete' | 'extra',
  value: unknown,
  key: string,
): unknown {
  const copy = structuredClone(doc);
  if (path.length === 0) return how === 'set' ? value : copy;
  const parent = path.slice(0, -1).reduce<any>((node, k) => node[k], copy);
  const last = path[path.length - 1];
  if (how === 'delete') {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  } else if (how === 'set') parent[last] = value;
  else if (parent[last] !== null && typeof parent[last] === 'object' && !Array.isArray(parent[last]))
    withOwn(parent[last], key, value);
  return copy;
}

/** A shipped workflow with one field changed, removed or added (or a file that is not a workflow). */
function workflowFiles(): fc.Arbitrary<{ file: string; text: string }> {
  const mutated = fc
    .constantFrom(...SHIPPED)
    .chain(({ file, raw }) =>
      fc
        .tuple(
          fc.constantFrom(...pathsOf(raw)),
          fc.constantFrom<'set' | 'delete' | 'extra'>('set', 'delete', 'extra'),
          fc.oneof(
            badValue(2_000, 100),
            fc.constantFrom(
              '99999999999d',
              '367d',
              '-1s',
              '1y',
              'ghost',
              'process_refund',
              'amount >',
              '(a+)+$',
              '[',
            ),
          ),
          fc.oneof(fc.constantFrom(...PROTO_KEYS), fc.string({ minLength: 1, maxLength: 8 })),
        )
        .map(([path, how, value, key]) => ({ file, text: toYaml(mutate(raw, path, how, value, key)) })),
    );
  const garbage = fc
    .tuple(
      fc.constantFrom(...SHIPPED.map((s) => s.file)),
      fc.oneof(
        anyText(0, 200),
        fc.constantFrom('a: [', 'x: &a [*a]', '- - -', '{', 'name: a\nname: b', '\t', ': :'),
      ),
    )
    .map(([file, text]) => ({ file, text }));
  return fc.oneof({ arbitrary: mutated, weight: 5 }, { arbitrary: garbage, weight: 1 });
}

/** Workflow files: the loader, in-process (fast), and a real server refusing a bad folder. */
export function workflowFuzzSuite(runs: { files: number }): void {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-wf-fuzz-'));
  const tools = exampleTools(new LocalRefunds(new RefundLedger(dataDir)));
  const tally = new Tally();
  after(() => {
    process.stdout.write(`${tally.report('workflow files, by outcome')}\n`);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('every bad workflow file gets an error naming the file, the field and what was expected; never a crash', async () => {
    await assertFuzz(
      'workflow files',
      fc.property(workflowFiles(), ({ file, text }) => {
        let workflow;
        try {
          workflow = parseWorkflowFile(file, text, tools);
        } catch (error) {
          assert.ok(
            error instanceof WorkflowFileError,
            `not a WorkflowFileError: ${(error as Error)?.stack}`,
          );
          assert.ok(error.message.startsWith(`${file}: `), `the message names the file: ${error.message}`);
          assert.ok(error.message.length > file.length + 4, 'and says what was expected');
          let raw: unknown;
          try {
            raw = parseYaml(text);
          } catch {
            raw = undefined; // not YAML: no field to name
          }
          // a mapping at the root: the bad field is named (as the error's field and in its message)
          if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
            assert.ok(error.field, `the error names the field: ${error.message}`);
            assert.ok(error.message.includes(`${error.field}: `), error.message);
          }
          tally.add(`refused (${error.field?.split('.')[0] ?? 'root'})`);
          return;
        }
        // accepted: then every duration it names makes a real deadline (a regression: 99999999999d)
        tally.add('accepted');
        for (const [, duration] of JSON.stringify(workflow).matchAll(/"(?:after|deadline)":"([^"]*)"/g))
          assert.ok(!Number.isNaN(new Date(Date.now() + durationMs(duration)).getTime()), duration);
      }),
      runs.files,
    );
  });

  it('a server started with a bad workflow folder stops with one line naming the file and the field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-wf-bad-'));
    try {
      const raw = SHIPPED.find((s) => s.file.endsWith('refund-desk.yaml'))!.raw as Record<string, any>;
      const cases: Array<[unknown, RegExp]> = [
        [{ ...raw, maxSteps: 'many' }, /refund-desk\.yaml: maxSteps: .*expected number/],
        [
          withOwn({ ...raw }, '__proto__', { pattern: 'x' }),
          /refund-desk\.yaml: __proto__: Unrecognized key/,
        ],
      ];
      for (const [doc, expected] of cases) {
        writeFileSync(join(dir, 'refund-desk.yaml'), toYaml(doc));
        const error = await ParleyProcess.start({ env: { PARLEY_WORKFLOWS_DIR: dir } }).then(
          async (server) => {
            await server.dispose();
            throw new Error('the server started with a bad workflow');
          },
          (e: Error) => e,
        );
        const lines = error.message.split('\n').filter((l) => l.startsWith('parley: cannot start:'));
        assert.equal(lines.length, 1, error.message);
        assert.match(lines[0], expected);
        assert.doesNotMatch(error.message, /\n\s+at /, 'no stack trace');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
