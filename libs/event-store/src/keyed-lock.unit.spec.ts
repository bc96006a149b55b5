import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyedLock } from './keyed-lock';

/** A promise and its resolve, to hold a step open until the test lets it go. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

describe('KeyedLock: work serialised per key', () => {
  it('runs the work of one key one at a time, in order, and the work of other keys meanwhile', async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    const first = gate();
    const a1 = lock.run('a', async () => {
      log.push('a1 start');
      await first.opened;
      log.push('a1 end');
      return 1;
    });
    const a2 = lock.run('a', async () => {
      log.push('a2');
      return 2;
    });
    const b1 = lock.run('b', async () => {
      log.push('b1');
      return 3;
    });
    assert.equal(await b1, 3);
    assert.deepEqual(log, ['a1 start', 'b1'], 'b does not wait for a; a2 waits for a1');
    first.open();
    assert.deepEqual(await Promise.all([a1, a2]), [1, 2]);
    assert.deepEqual(log, ['a1 start', 'b1', 'a1 end', 'a2']);
  });

  it('a failure is its caller’s alone: the next work of the key still runs', async () => {
    const lock = new KeyedLock();
    const failed = lock.run('a', async () => {
      throw new Error('boom');
    });
    const next = lock.run('a', async () => 'ran');
    await assert.rejects(failed, /boom/);
    assert.equal(await next, 'ran');
  });

  it('idle resolves once everything queued so far has settled, failures included', async () => {
    const lock = new KeyedLock();
    const held = gate();
    let settled = 0;
    void lock.run('a', () => held.opened.then(() => void (settled += 1)));
    lock
      .run('b', async () => {
        settled += 1;
        throw new Error('boom');
      })
      .catch(() => undefined);
    const idle = lock.idle().then(() => settled);
    await new Promise((r) => setImmediate(r));
    assert.equal(settled, 1, 'a is still held');
    held.open();
    assert.equal(await idle, 2);
  });
});
