import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CRASH_POINTS, chaosCrashHook, parseCrashPoints, type CrashPoint } from './crash-points';

describe('chaos crash points (test only)', () => {
  it('parses "all" and lists of names; names the bad one', () => {
    assert.deepEqual(parseCrashPoints('all'), [...CRASH_POINTS]);
    assert.deepEqual(parseCrashPoints(' before-tool, after-tool ,before-tool'), [
      'before-tool',
      'after-tool',
    ]);
    assert.throws(() => parseCrashPoints('before-tool,after-lunch'), /"after-lunch" is not a crash point/);
    assert.throws(() => parseCrashPoints(','), /must be "all" or a list/);
  });

  it('crashes only at armed points, with the same choices for the same seed', () => {
    const walk: CrashPoint[] = Array.from({ length: 400 }, (_, i) => CRASH_POINTS[i % CRASH_POINTS.length]);
    const crashes = (seed: number): string[] => {
      const seen: string[] = [];
      const hook = chaosCrashHook(
        { points: ['before-tool', 'after-tool-recorded'], probability: 0.2, seed },
        (p, runId) => seen.push(`${p}@${runId}`),
      );
      walk.forEach((point, i) => hook(point, `r${i}`));
      return seen;
    };
    const a = crashes(42);
    assert.deepEqual(crashes(42), a, 'a seed reproduces its crashes');
    assert.notDeepEqual(crashes(43), a, 'another seed crashes elsewhere');
    assert.ok(a.length > 5 && a.length < 40, `about 20% of ~114 armed hits: ${a.length}`);
    assert.ok(a.every((c) => c.startsWith('before-tool@') || c.startsWith('after-tool-recorded@')));
  });

  it('with probability 1, crashes at the first armed point reached', () => {
    const seen: string[] = [];
    const hook = chaosCrashHook({ points: ['after-model'], probability: 1, seed: 7 }, (p) => seen.push(p));
    hook('before-model', 'r');
    assert.deepEqual(seen, []);
    hook('after-model', 'r');
    assert.deepEqual(seen, ['after-model']);
  });
});
