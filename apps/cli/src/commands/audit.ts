import { createWriteStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  ExportManifest,
  ExportVerifier,
  canonicalJson,
  upcast,
  type EventEnvelope,
  type VerifyResult,
} from '@parley/contracts';
import { evolve, runView, type RunState } from '@parley/engine';
import { positiveInt } from '../args';
import type { Command } from '../command';
import { CliError, EXIT, usageError } from '../errors';
import { formatState, type RunViewLike } from '../format';
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
      : await ctx
          .http()
          .get<{ at: number; state: RunViewLike }>(
            `/api/runs/${encodeURIComponent(ctx.positionals[0])}/state${at ? `?at=${at}` : ''}`,
          );
    ctx.out(ctx.json ? canonicalJson(result) : formatState(result.state, result.at));
  },
};

async function replayFile(
  file: string,
  at: number | undefined,
  only: string | undefined,
): Promise<{ at: number; state: RunViewLike }> {
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
  return { at: state.seq, state: runView(state) as RunViewLike };
}

const verify: Command = {
  name: 'verify',
  arguments: [['<runId|file.ndjson>', 'a run on the server, or an export file (offline)']],
  summary: "check a run's hash chain on the server, or an export file offline",
  details: [
    'Prints "ok: N events, head <hash>", or the first broken position and why, and exits 4.',
    "A file is an export (GET /api/runs/:runId/export or /api/export): its manifest, every run's hash",
    "chain and seq continuity, and the manifest's count and head are checked line by line.",
  ].join('\n'),
  options: {},
  async run(ctx) {
    const file = fileArgument(ctx.positionals[0]);
    if (!file) {
      const verdict = await ctx
        .http()
        .get<VerifyResult>(`/api/runs/${encodeURIComponent(ctx.positionals[0])}/verify`);
      if (ctx.json) ctx.out(JSON.stringify(verdict));
      else
        ctx.out(
          verdict.ok
            ? `ok: ${verdict.events} events, head ${verdict.head}`
            : `broken at seq ${verdict.seq} (${verdict.reason}): ${verdict.message}`,
        );
      return verdict.ok ? EXIT.ok : EXIT.verification;
    }
    const verifier = new ExportVerifier();
    for await (const text of lines(file)) verifier.push(text);
    const verdict = verifier.result();
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
    return verdict.ok ? EXIT.ok : EXIT.verification;
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
    const response = await ctx
      .http()
      .send('GET', `/api/runs/${encodeURIComponent(runId)}/export`, undefined, 'application/x-ndjson');
    const count = await download(response, output);
    if (output) ctx.err(`wrote ${output}: ${count - 1} events of run ${runId}`);
  },
};

/** Stream the body to a file or stdout, with backpressure; returns the number of lines. */
async function download(response: Response, output: string | undefined): Promise<number> {
  let newlines = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      for (const byte of chunk) if (byte === 10) newlines += 1;
      done(null, chunk);
    },
  });
  const body = Readable.fromWeb(response.body as unknown as Parameters<typeof Readable.fromWeb>[0]);
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

export const AUDIT_COMMANDS: Command[] = [replay, verify, exportRun];
