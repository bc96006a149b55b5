import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkGateInvariant } from '@parley/testing';

/**
 * The gate invariant at scale (`npm run test:chaos`): 10,000 generated workflows, model answers and
 * human actions (decisions, edits, stale hashes, expiries, messages, forks at any seq, restarts from
 * any prefix), every effect checked against the oracle. `GATE_RUNS=<n>` changes the size,
 * `GATE_SEED=<n>` replays a seed.
 */
const numRuns = Number(process.env.GATE_RUNS ?? 10_000);
const seed = process.env.GATE_SEED === undefined ? undefined : Number(process.env.GATE_SEED);

describe('the gate invariant (chaos)', () => {
  it(`${numRuns} generated scenarios: no tool runs without the decisions its policies need`, () => {
    const { effects, runs } = checkGateInvariant(numRuns, seed);
    console.log(
      `[gate-invariant] ${numRuns} scenarios, ${runs} runs (forks included), ${effects} effects checked`,
    );
    assert.ok(effects > numRuns / 3);
  });
});
