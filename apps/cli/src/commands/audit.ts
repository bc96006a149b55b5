import { createWriteStream, readFileSync } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  ExportManifest,
  ExportVerifier,
  PUBLIC_KEY_PREFIX,
  canonicalJson,
  parsePublicKey,
  upcast,
  verifySignedHead,
  type EventEnvelope,
  type RunView,
} from '@parley/contracts';
import { evolve, runView, type RunState } from '@parley/engine';
import { positiveInt } from '../args';
import type { Command } from '../command';
import { CliError, EXIT, usageError } from '../errors';
import { formatState } from '../format';
import { fileArgument, lines } from '../ndjson';
// The server's own view of a state (a pure function), so that an offline replay prints exactly
// what `GET /api/runs/:id/state?at=` answers.

const replay: Command = {
  name: 'replay',
  arguments: [['<runId|file.ndjson>', 'a run on the server, or an export file (offline)']],
  summary: "a run's state at a seq: transcript and pending requests (a file is replayed offline)",
  details: [
    'With a runId, the server rebuilds the state from the log (GET /api/runs/:runId/state?at=).',
    'With a file (an export, or the NDJSON of /events), the events are folded here, offline, with the',
    "engine's own fold; --json then prints the same canonical JSON as the server.",
  ].join('\n'),
  options: {
    at: { type: 'string', value: 'seq', description: 'the seq to stop at (default: the last event)' },
    run: { type: 'string', value: 'runId', description: 'the run to replay when the file holds several' },
  },
  async run(ctx) {
    const at = positiveInt(ctx.values.at, '--at');
    const file = fileArgument(ctx.positionals[0]);
    const result = file
      ? await replayFile(file, at, ctx.values.run as string | undefined)
      : await ctx.client().runState(ctx.positionals[0], at);
    ctx.out(ctx.json ? canonicalJson(result) : formatState(result.state, result.at));
  },
};

async function replayFile(
  file: string,
  at: number | undefined,
  only: string | undefined,
): Promise<{ at: number; state: RunView }> {
  let state: RunState | undefined;
  let runId = only;
  const others = new Set<string>();
  let n = 0;
  let head = 0;
  for await (const text of lines(file)) {
    n += 1;
    if (!text.trim()) continue;
    let value: EventEnvelope;
    try {
      value = JSON.parse(text) as EventEnvelope;
    } catch {
      throw new CliError(EXIT.verification, `${file}: line ${n} is not valid JSON`);
    }
    if (n === 1 && ExportManifest.safeParse(value).success) continue;
    if (typeof value?.runId !== 'string' || typeof value.seq !== 'number')
      throw new CliError(EXIT.verification, `${file}: line ${n} is not an event`);
    runId ??= value.runId;
    if (value.runId !== runId) {
      others.add(value.runId);
      continue;
    }
    head = value.seq;
    if (at !== undefined && value.seq > at) continue;
    try {
      state = evolve(state, upcast(value));
    } catch (error) {
      throw new CliError(
        EXIT.verification,
        `${file}: line ${n} (seq ${value.seq}) cannot be replayed: ${(error as Error).message}`,
      );
    }
  }
  if (others.size && !only)
    throw usageError(`${file} holds several runs (${[runId, ...others].join(', ')}): choose one with --run`);
  if (!state)
    throw new CliError(
      EXIT.notFound,
      only ? `${file} holds no events of run ${only}` : `${file} holds no events`,
    );
  if (at !== undefined && at > head)
    throw usageError(`--at: the run has ${head} events; at must be at most ${head}`);
  return { at: state.seq, state: runView(state) };
}

const verify: Command = {
  name: 'verify',
  arguments: [['[runId|file.ndjson]', 'a run on the server, or an export file (offline)']],
  summary: "check a run's hash chain on the server, an export file offline, or every run against the anchors",
  details: [
    'Prints "ok: N events, head <hash>", or the first broken position and why, and exits 4.',
    "A file is an export (GET /api/runs/:runId/export or /api/export): its manifest, every run's hash",
    "chain and seq continuity, and the manifest's count and head are checked line by line.",
    "--key PUBKEY (the server's key, `parley key`) also requires the file to be signed with it: a",
    'chain recomputed without the key is reported forged, with the signed head it does not reach and',
    'the first seq that may differ. --expect-head SEQ:HASH requires the chain to pass through that head.',
    '--anchors (no argument) checks every run on the server against its anchor stream: each run deleted,',
    'cut short or rewritten since its last signed head is reported (with --key, each anchor signature too).',
  ].join('\n'),
  options: {
    key: {
      type: 'string',
      value: 'pubkey',
      description: 'the public key (ed25519:..., or a file holding it) the file must be signed with',
    },
    'expect-head': {
      type: 'string',
      value: 'seq:hash',
      description: "a head (e.g. one published earlier) the run's chain must pass through",
    },
    anchors: { type: 'boolean', description: 'check every run on the server against the anchor stream' },
  },
  async run(ctx) {
    const key = ctx.values.key === undefined ? undefined : readKey(String(ctx.values.key));
    const expectHead = parseExpectHead(ctx.values['expect-head'] as string | undefined);
    if (ctx.values.anchors) {
      if (ctx.positionals[0])
        throw usageError('--anchors checks every run on the server: give no run or file');
      return verifyAnchors(ctx, key);
    }
    if (!ctx.positionals[0]) throw usageError('verify: give a runId or an export file (or --anchors)');
    const file = fileArgument(ctx.positionals[0]);
    if (!file) {
      if (key || expectHead)
        throw usageError('--key and --expect-head check an export file: export the run first');
      const verdict = await ctx.client().verify(ctx.positionals[0]);
      if (ctx.json) ctx.out(JSON.stringify(verdict));
      else
        ctx.out(
          verdict.ok
            ? `ok: ${verdict.events} events, head ${verdict.head}`
            : `broken at seq ${verdict.seq} (${verdict.reason}): ${verdict.message}`,
        );
      return verdict.ok ? EXIT.ok : EXIT.verification;
    }
    const verifier = new ExportVerifier({ trustedKeys: key ? [key] : undefined, expectHead });
    for await (const text of lines(file)) verifier.push(text);
    const verdict = verifier.result();
    if (expectHead && verdict.runs.length > 1)
      throw usageError(`--expect-head: ${file} holds several runs; export the one to check`);
    if (ctx.json) {
      ctx.out(JSON.stringify(verdict));
      return verdict.ok ? EXIT.ok : EXIT.verification;
    }
    const several = verdict.runs.length > 1;
    for (const run of verdict.runs) {
      const who = several ? `run ${run.runId}: ` : '';
      if (run.ok) ctx.out(`ok: ${who}${run.events} events, head ${run.head}`);
      else
        ctx.out(
          `broken: ${several ? who : `run ${run.runId} `}at seq ${run.seq} (${run.reason}): ${run.message}`,
        );
    }
    for (const problem of verdict.problems) ctx.out(`broken: ${problem}`);
    if (!verdict.runs.length && !verdict.problems.length) ctx.out('ok: no runs');
    const signature = verdict.signature;
    if (signature && signature.status !== 'valid') ctx.out(`forged: ${signature.message}`);
    else if (signature && key) ctx.out(`ok: ${signature.message}`);
    else if (signature) ctx.out(`signature: ${signature.message} (not checked against a key: use --key)`);
    for (const forged of verdict.forged ?? []) ctx.out(`forged: ${forged.message}`);
    if (verdict.expectedHead)
      ctx.out(`${verdict.expectedHead.ok ? 'ok' : 'broken'}: ${verdict.expectedHead.message}`);
    return verdict.ok ? EXIT.ok : EXIT.verification;
  },
};

/** `--key`: the key itself, or a file holding it. */
function readKey(value: string): string {
  let text = value.trim();
  if (!text.startsWith(PUBLIC_KEY_PREFIX)) {
    try {
      text = readFileSync(text, 'utf8').trim();
    } catch {
      throw usageError(
        `--key: give the public key (${PUBLIC_KEY_PREFIX}...) or a file holding it, not "${value}"`,
      );
    }
  }
  try {
    parsePublicKey(text);
  } catch (error) {
    throw usageError(`--key: ${(error as Error).message}`);
  }
  return text;
}

function parseExpectHead(value: string | undefined): { seq: number; hash: string } | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d+):([0-9a-f]{64})$/.exec(value.trim());
  if (!match || Number(match[1]) < 1)
    throw usageError(`--expect-head: SEQ:HASH (a seq from 1, a 64-digit hex hash), not "${value}"`);
  return { seq: Number(match[1]), hash: match[2] };
}

/** Every run on the server against its anchors; with --key, each anchor's signature is checked here. */
async function verifyAnchors(ctx: Parameters<Command['run']>[0], key: string | undefined): Promise<number> {
  const answer = await ctx.client().checkAnchors();
  let ok = answer.ok;
  const lines: string[] = [];
  if (key) {
    const publicKey = parsePublicKey(key);
    for (const run of answer.runs) {
      if (run.anchored && !verifySignedHead(run.anchored, publicKey)) {
        ok = false;
        run.ok = false;
        run.message = `run ${run.runId}: its anchor at seq ${run.anchored.seq} is not signed by ${key}`;
      }
    }
  }
  if (ctx.json) {
    ctx.out(JSON.stringify({ ...answer, ok }));
    return ok ? EXIT.ok : EXIT.verification;
  }
  for (const run of answer.runs)
    if (!run.ok) lines.push(`broken: ${run.problem ? `(${run.problem}) ` : ''}${run.message}`);
  const bad = answer.runs.filter((r) => !r.ok).length;
  lines.push(
    ok
      ? `ok: ${answer.checked} runs match their anchors`
      : `broken: ${bad} of ${answer.checked} runs do not match their anchors`,
  );
  for (const line of lines) ctx.out(line);
  return ok ? EXIT.ok : EXIT.verification;
}

const key: Command = {
  name: 'key',
  arguments: [],
  summary: "print the server's public signing key (what `verify --key` and PARLEY_TRUSTED_KEYS take)",
  options: {},
  async run(ctx) {
    const answer = await ctx.client().signingKey();
    ctx.out(ctx.json ? JSON.stringify(answer) : answer.publicKey);
  },
};

const exportRun: Command = {
  name: 'export',
  arguments: [['<runId>', 'the run']],
  summary: 'download a run as NDJSON (a manifest line, then every event as stored)',
  options: {
    output: {
      type: 'string',
      short: 'o',
      value: 'file',
      description: 'write to this file (default: stdout)',
    },
  },
  async run(ctx) {
    const runId = ctx.positionals[0];
    const output = ctx.values.output as string | undefined;
    const count = await download(await ctx.client().exportRunStream(runId), output);
    if (output) ctx.err(`wrote ${output}: ${count - 1} events of run ${runId}`);
  },
};

/** Stream the body to a file or stdout, with backpressure; returns the number of lines. */
async function download(stream: ReadableStream<Uint8Array>, output: string | undefined): Promise<number> {
  let newlines = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      for (const byte of chunk) if (byte === 10) newlines += 1;
      done(null, chunk);
    },
  });
  const body = Readable.fromWeb(stream as unknown as Parameters<typeof Readable.fromWeb>[0]);
  try {
    if (output) await pipeline(body, counter, createWriteStream(output));
    else await pipeline(body, counter, process.stdout, { end: false });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (output && code && /^E(NOENT|ACCES|ISDIR|PERM|ROFS)$/.test(code))
      throw usageError(`-o: cannot write ${output} (${code})`);
    throw new CliError(EXIT.unreachable, `the download was cut off: ${(error as Error).message}`);
  }
  return newlines;
}

export const AUDIT_COMMANDS: Command[] = [replay, verify, exportRun, key];
