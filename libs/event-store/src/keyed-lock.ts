/**
 * Work serialised per key (a run id): `run(key, fn)` starts `fn` once every earlier `run` of the same
 * key has settled, whatever its outcome. Different keys do not wait for each other. A key is dropped
 * once nothing holds or waits for it.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();
  private readonly held = new Set<Promise<void>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(fn);
    const done = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, done);
    this.held.add(done);
    void done.then(() => {
      this.held.delete(done);
      if (this.tails.get(key) === done) this.tails.delete(key);
    });
    return result;
  }

  /** Resolves once everything queued so far, on every key, has settled. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.held]);
  }
}
