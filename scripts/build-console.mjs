#!/usr/bin/env node
// Build the web console (apps/console) with Vite into dist/console, which the server serves at
// /console. Skipped when dist/console/index.html is newer than every source file under
// apps/console/, libs/contracts/src/ and libs/client/src/ (the console imports the contracts'
// schemas and talks to the server through @parley/client), so that
// `npm start` stays quick when nothing changed.
//
//   node scripts/build-console.mjs           build if stale
//   node scripts/build-console.mjs --force   build anyway
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';

const root = fileURLToPath(new URL('..', import.meta.url));
const consoleRoot = join(root, 'apps', 'console');
const outDir = join(root, 'dist', 'console');
const marker = join(outDir, 'index.html');
const force = process.argv.includes('--force');
const log = (line) => process.stderr.write(`[console] ${line}\n`);

function newestSource(dir) {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const full = join(dir, name);
    const stat = statSync(full);
    newest = Math.max(newest, stat.isDirectory() ? newestSource(full) : stat.mtimeMs);
  }
  return newest;
}

const sources = Math.max(
  newestSource(consoleRoot),
  newestSource(join(root, 'libs', 'contracts', 'src')),
  newestSource(join(root, 'libs', 'client', 'src')),
  statSync(fileURLToPath(import.meta.url)).mtimeMs,
);
if (!force && existsSync(marker) && statSync(marker).mtimeMs > sources) {
  log('dist/console is up to date');
  process.exit(0);
}

log('building apps/console with Vite → dist/console');
const started = Date.now();
try {
  const { build } = await import('vite');
  await build({ configFile: join(consoleRoot, 'vite.config.ts'), logLevel: 'warn' });
  precompress(join(outDir, 'assets'));
} catch (error) {
  log(`the console build failed: ${error?.message ?? error}`);
  process.exit(1);
}

/**
 * A .br and a .gz beside each hashed script and stylesheet: the server sends one of them when the
 * browser accepts it (apps/server/src/console/), compressed once here at the highest level rather
 * than on every request.
 */
function precompress(dir) {
  let raw = 0;
  let br = 0;
  for (const name of readdirSync(dir)) {
    if (!/\.(js|css)$/.test(name)) continue;
    const bytes = readFileSync(join(dir, name));
    const brotli = brotliCompressSync(bytes, {
      params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: bytes.length },
    });
    writeFileSync(join(dir, `${name}.br`), brotli);
    writeFileSync(join(dir, `${name}.gz`), gzipSync(bytes, { level: 9 }));
    raw += bytes.length;
    br += brotli.length;
  }
  log(`scripts and styles: ${Math.round(raw / 1024)} KiB, ${Math.round(br / 1024)} KiB with brotli`);
}
log(`built in ${Date.now() - started} ms`);
