import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { REPO_ROOT } from '@parley/testing';

/**
 * bin/compile-cache.js, the V8 code cache of the server's modules: a module whose source changed is
 * never run from the cache (even at the same length, which is all V8 itself compares), and a damaged
 * cache file is ignored; under --enable-source-maps it is off. Real node processes, as the server runs it.
 */

const dir = mkdtempSync(join(tmpdir(), 'parley-compile-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const cache = join(dir, 'cache');
const hook = join(REPO_ROOT, 'bin', 'compile-cache.js');

/** Runs main.js (the hook, then `mod.js`) and prints what mod.js says; lives 6 s so that the cache is written. */
function run(): string {
  writeFileSync(
    join(dir, 'main.js'),
    `require(${JSON.stringify(hook)}); console.log(require('./mod.js')()); setTimeout(() => {}, 6000);`,
  );
  return execFileSync(process.execPath, [join(dir, 'main.js')], {
    // without the test runner's --enable-source-maps (the cache is off under it)
    env: { ...process.env, NODE_OPTIONS: '', PARLEY_COMPILE_CACHE: cache },
    encoding: 'utf8',
  }).trim();
}

const cacheFile = (): string => join(cache, `v8-${process.version}-${process.arch}.cache`);

describe('the compile cache', () => {
  it('runs the module as it is now: a change of the same length, then a damaged cache file', () => {
    writeFileSync(join(dir, 'mod.js'), `module.exports = function () { return 'first:' + (1 + 1); };`);
    assert.equal(run(), 'first:2');
    assert.ok(existsSync(cacheFile()), 'the cache was written');
    assert.equal(run(), 'first:2', 'from the cache');
    // the same length, other code: V8 alone would take the cached code for it
    writeFileSync(join(dir, 'mod.js'), `module.exports = function () { return 'again:' + (2 * 3); };`);
    assert.equal(run(), 'again:6');
    const bytes = readFileSync(cacheFile());
    for (let i = bytes.length - 200; i < bytes.length; i++) bytes[i] ^= 0xff;
    writeFileSync(cacheFile(), bytes);
    assert.equal(run(), 'again:6', 'a damaged cache file is not used');
  });

  it('is off under --enable-source-maps (stack traces stay mapped): nothing is written', () => {
    const other = join(dir, 'cache-off');
    writeFileSync(
      join(dir, 'maps.js'),
      `require(${JSON.stringify(hook)}); console.log(require('./mod.js')()); setTimeout(() => {}, 6000);`,
    );
    const out = execFileSync(process.execPath, ['--enable-source-maps', join(dir, 'maps.js')], {
      env: { ...process.env, NODE_OPTIONS: '', PARLEY_COMPILE_CACHE: other },
      encoding: 'utf8',
    }).trim();
    assert.equal(out, 'again:6');
    assert.ok(!existsSync(other), 'no cache folder');
  });
});
