import fc from 'fast-check';

/**
 * Fuzzing settings: a fixed seed by default (the same inputs on every run, so a failure is
 * reproducible), overridden by FUZZ_SEED; FUZZ_RUNS overrides every property's number of runs;
 * FUZZ_PATH replays one shrunk counterexample (fast-check prints seed and path on failure).
 */
export const FUZZ_DEFAULT_SEED = 20260806;

export function fuzzSeed(): number {
  const seed = process.env.FUZZ_SEED;
  return seed !== undefined && seed !== '' ? Number(seed) : FUZZ_DEFAULT_SEED;
}

export function fuzzRuns(defaultRuns: number): number {
  const runs = process.env.FUZZ_RUNS;
  return runs !== undefined && runs !== '' ? Number(runs) : defaultRuns;
}

/** fc.assert with the seed, the run count, and a reproduction line when it fails. */
export async function assertFuzz<Ts extends [unknown, ...unknown[]]>(
  what: string,
  property: fc.IAsyncPropertyWithHooks<Ts> | fc.IPropertyWithHooks<Ts>,
  runs: number,
): Promise<void> {
  const seed = fuzzSeed();
  const numRuns = fuzzRuns(runs);
  const path = process.env.FUZZ_PATH || undefined;
  try {
    await fc.assert(property, { seed, numRuns, path, endOnFailure: false, verbose: 0 });
  } catch (error) {
    const match = /seed: (-?\d+), path: "([^"]*)"/.exec((error as Error).message);
    const repro = `FUZZ_SEED=${match?.[1] ?? seed}${match ? ` FUZZ_PATH=${match[2]}` : ''} FUZZ_RUNS=${numRuns}`;
    process.stderr.write(`\n[fuzz] ${what} failed; reproduce with ${repro}\n`);
    (error as Error).message = `${what} (reproduce with ${repro})\n${(error as Error).message}`;
    throw error;
  }
}

/** What the fuzzer tried and what it got, by status and code: the figures of docs/RELIABILITY.md. */
export class Tally {
  readonly counts = new Map<string, number>();
  total = 0;

  add(key: string): void {
    this.total += 1;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  /** One line per key, most frequent first. */
  report(title: string): string {
    const rows = [...this.counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    return `[fuzz] ${title}: ${this.total} inputs\n${rows.map(([k, n]) => `  ${String(n).padStart(6)}  ${k}`).join('\n')}`;
  }
}
