import { appendFileSync, writeSync } from 'node:fs';

/**
 * Test only: named step boundaries of the engine where a chaos test makes the process SIGKILL
 * itself, to show that a crash at any of them loses nothing and repeats no side effect
 * (docs/RELIABILITY.md §1). The engine calls its `crashPoint` hook at each; without the hook (the
 * default: `PARLEY_CHAOS_CRASH_POINTS` unset) nothing happens.
 */
export const CRASH_POINTS = [
  /** Any append through the engine (a run start, a human decision, an effect's intent) is durable; nothing has acted on it. */
  'after-append',
  /** A model call's `model-call.started` is durable; the call is not made yet. */
  'before-model',
  /** The model answered; the answer is not recorded. */
  'after-model',
  /** The answer is recorded (with the facts and the next intent that follow from it); nothing more is done. */
  'after-model-recorded',
  /** `tool-call.started` is durable; the tool's effect has not run. */
  'before-tool',
  /** The tool's effect ran (the refund is in the ledger); its result is not recorded. */
  'after-tool',
  /** The tool's result is recorded (with what follows from it); nothing more is done. */
  'after-tool-recorded',
] as const;

export type CrashPoint = (typeof CRASH_POINTS)[number];

/** The engine's port: called at each crash point (it does not return when it crashes). */
export type CrashPointHook = (point: CrashPoint, runId: string) => void;

export interface ChaosSettings {
  /** Where the process may crash. */
  points: CrashPoint[];
  /** The chance of a crash each time one of `points` is reached, in (0, 1]. */
  probability: number;
  /** Seeds the generator that draws each chance: the same seed and the same order of points crash at the same one. */
  seed: number;
}

/** `all`, or a comma-separated list of crash points; throws an Error naming what is wrong. */
export function parseCrashPoints(raw: string): CrashPoint[] {
  const names = raw
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  if (names.length === 1 && names[0] === 'all') return [...CRASH_POINTS];
  if (names.length === 0) throw new Error(`must be "all" or a list of ${CRASH_POINTS.join(', ')}`);
  for (const name of names) {
    if (!(CRASH_POINTS as readonly string[]).includes(name))
      throw new Error(`"${name}" is not a crash point (one of: all, ${CRASH_POINTS.join(', ')})`);
  }
  return [...new Set(names)] as CrashPoint[];
}

/** A small seeded generator (mulberry32): uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Say where (on stderr, and as a line of `recordFile` when given: a test counts its crashes there),
 * then SIGKILL this process: no shutdown hook, no flush; only what is durable survives.
 */
export function sigkillSelf(recordFile?: string): (point: CrashPoint, runId: string) => never {
  return (point, runId) => {
    const line = `parley chaos: SIGKILL at ${point} (run ${runId})\n`;
    if (recordFile) appendFileSync(recordFile, line);
    writeSync(2, line);
    process.kill(process.pid, 'SIGKILL');
    // The signal is delivered before kill() returns; should it not be, nothing more may run here.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
    process.abort();
  };
}

/**
 * Say where, then stop this process with SIGSTOP, once: a pause (a long GC, a frozen VM, a network
 * stall), not a crash. The test sends SIGCONT; the process then goes on from this very point, still
 * believing what it believed before (that it owns the run).
 */
export function pauseSelfOnce(recordFile?: string): (point: CrashPoint, runId: string) => void {
  let paused = false;
  return (point, runId) => {
    if (paused) return;
    paused = true;
    const line = `parley chaos: SIGSTOP at ${point} (run ${runId})\n`;
    if (recordFile) appendFileSync(recordFile, line);
    writeSync(2, line);
    process.kill(process.pid, 'SIGSTOP'); // returns once SIGCONT arrives
    writeSync(2, `parley chaos: SIGCONT after ${point} (run ${runId})\n`);
  };
}

/** The hook for `settings`: at each listed point, crash with the given chance. */
export function chaosCrashHook(
  settings: ChaosSettings,
  crash: (point: CrashPoint, runId: string) => void = sigkillSelf(),
): CrashPointHook {
  const random = seededRandom(settings.seed);
  const armed = new Set<CrashPoint>(settings.points);
  return (point, runId) => {
    if (armed.has(point) && random() < settings.probability) crash(point, runId);
  };
}
