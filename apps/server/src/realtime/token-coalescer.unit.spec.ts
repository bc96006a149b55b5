import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LiveToken } from '../core/live-tokens';
import { TokenCoalescer } from './token-coalescer';

function collect(windowMs = 20, maxDeltaChars?: number): { sent: LiveToken[]; c: TokenCoalescer } {
  const sent: LiveToken[] = [];
  return { sent, c: new TokenCoalescer((t) => sent.push(t), windowMs, maxDeltaChars) };
}

describe('TokenCoalescer: an agent streaming fast is sent in a few frames, in order', () => {
  it('sends the deltas of one (run, agent) within the window as one token, concatenated in order', async () => {
    const { sent, c } = collect();
    for (const d of ['Hel', 'lo', ', ', 'world']) c.push({ runId: 'r1', agent: 'writer', delta: d });
    assert.deepEqual(sent, [], 'nothing before the window ends');
    await sleep(40);
    assert.deepEqual(sent, [{ runId: 'r1', agent: 'writer', delta: 'Hello, world' }]);
  });

  it('keeps runs and agents apart', async () => {
    const { sent, c } = collect();
    c.push({ runId: 'r1', agent: 'a', delta: '1' });
    c.push({ runId: 'r1', agent: 'b', delta: 'x' });
    c.push({ runId: 'r2', agent: 'a', delta: 'y' });
    c.push({ runId: 'r1', agent: 'a', delta: '2' });
    await sleep(40);
    assert.deepEqual(sent.map((t) => `${t.runId}/${t.agent}:${t.delta}`).sort(), [
      'r1/a:12',
      'r1/b:x',
      'r2/a:y',
    ]);
  });

  it('flushRun sends that run at once (before one of its events), and leaves the others to the timer', async () => {
    const { sent, c } = collect();
    c.push({ runId: 'r1', agent: 'a', delta: 'one' });
    c.push({ runId: 'r2', agent: 'a', delta: 'two' });
    c.flushRun('r1');
    assert.deepEqual(sent, [{ runId: 'r1', agent: 'a', delta: 'one' }]);
    await sleep(40);
    assert.deepEqual(sent.at(-1), { runId: 'r2', agent: 'a', delta: 'two' });
    assert.equal(sent.length, 2);
  });

  it('sends a long pending delta at once, and later deltas after it', async () => {
    const { sent, c } = collect(20, 5);
    c.push({ runId: 'r1', agent: 'a', delta: 'abc' });
    c.push({ runId: 'r1', agent: 'a', delta: 'def' });
    assert.deepEqual(sent, [{ runId: 'r1', agent: 'a', delta: 'abcdef' }]);
    c.push({ runId: 'r1', agent: 'a', delta: 'g' });
    await sleep(40);
    assert.deepEqual(
      sent.map((t) => t.delta),
      ['abcdef', 'g'],
    );
  });

  it('close drops what is pending and stops the timer', async () => {
    const { sent, c } = collect();
    c.push({ runId: 'r1', agent: 'a', delta: 'x' });
    c.close();
    await sleep(40);
    assert.deepEqual(sent, []);
  });
});
