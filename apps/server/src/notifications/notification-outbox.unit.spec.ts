import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { NotificationOutbox } from './notification-outbox';

const dirs: string[] = [];
function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-outbox-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const row = { target: 'https://hooks.example/parley', body: '{"type":"request.opened"}' };

describe('NotificationOutbox: the cursor and the rows it notifies, crash-safe', () => {
  it('a notification is written with its position at once: a crash right after loses neither', () => {
    const dir = dataDir();
    const outbox = new NotificationOutbox(dir);
    outbox.enqueue(7, [row], new Date());
    // no close: the process "dies" here; a new one opens the same file
    const after = new NotificationOutbox(dir);
    assert.equal(after.position(), 7);
    assert.deepEqual(
      after.due(Date.now() + 1000).map((d) => d.body),
      [row.body],
    );
    after.close();
    outbox.close();
  });

  it('events that notify nobody move the cursor in memory; a crash re-reads them from the last write', () => {
    const dir = dataDir();
    const outbox = new NotificationOutbox(dir);
    outbox.enqueue(1, [row], new Date());
    for (let p = 2; p <= 500; p++) outbox.enqueue(p, [], new Date());
    const crashed = new NotificationOutbox(dir);
    assert.equal(crashed.position(), 1, 'positions 2..500 are read again after a crash (they notify nobody)');
    crashed.close();
    outbox.close(); // a clean close writes the cursor
    const reopened = new NotificationOutbox(dir);
    assert.equal(reopened.position(), 500);
    assert.equal(reopened.due(Date.now() + 1000).length, 1, 'no notification invented or lost');
    reopened.close();
  });

  it('the cursor is written at least every 1,000 events, so a crash re-reads a bounded stretch', () => {
    const dir = dataDir();
    const outbox = new NotificationOutbox(dir);
    for (let p = 1; p <= 2500; p++) outbox.enqueue(p, [], new Date());
    const crashed = new NotificationOutbox(dir);
    assert.ok(crashed.position() >= 1500, `cursor written at ${crashed.position()}`);
    crashed.close();
    outbox.close();
  });
});
