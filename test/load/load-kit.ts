/**
 * Shared pieces of the load and soak tests (test/load): statistics, a linear fit, the machine's
 * load, and the figures each test prints (stderr) and keeps (test-results/load/<name>.json).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@parley/testing';

export interface Summary {
  n: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles (as scripts/bench/common.ts). */
export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number): number =>
    sorted.length === 0
      ? NaN
      : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
  const mean = sorted.reduce((s, x) => s + x, 0) / (sorted.length || 1);
  return { n: sorted.length, p50: at(50), p99: at(99), max: sorted.at(-1) ?? NaN, mean: round(mean) };
}

/** Least-squares line through (x, y): slope and intercept. */
export function linearFit(xs: number[], ys: number[]): { slope: number; intercept: number } {
  const n = xs.length;
  if (n < 2) return { slope: NaN, intercept: NaN };
  const mx = xs.reduce((s, x) => s + x, 0) / n;
  const my = ys.reduce((s, y) => s + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
  }
  const slope = sxx === 0 ? NaN : sxy / sxx;
  return { slope, intercept: my - slope * mx };
}

export const round = (x: number, digits = 1): number => Number(x.toFixed(digits));
export const mb = (bytes: number): number => round(bytes / (1024 * 1024));
/** The 1-minute load average (2 cores here: above 2, something waits for a CPU). */
export const load1 = (): number => round(os.loadavg()[0], 2);

export function log(line: string): void {
  process.stderr.write(`[load] ${line}\n`);
}

/** Print the figures of one test and keep them in test-results/load/<name>.json. */
export function report(name: string, figures: Record<string, unknown>): void {
  const line = JSON.stringify({ name, at: new Date().toISOString(), ...figures });
  process.stderr.write(`LOAD ${line}\n`);
  try {
    const dir = join(REPO_ROOT, 'test-results', 'load');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(JSON.parse(line), null, 2)}\n`);
  } catch (error) {
    log(`could not keep the figures of ${name}: ${String(error)}`);
  }
}

/** An integer from the environment, or `fallback`. */
export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name}: a positive number, not ${raw}`);
  return value;
}

/** Run `tasks` with at most `limit` at once. */
export async function pool<T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await task(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
