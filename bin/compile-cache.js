'use strict';
// A V8 code cache for the CommonJS modules the server loads (Node 20 has no module.enableCompileCache):
// compiling them is the largest single cost of its start-up. Each module's source is compiled with
// vm.Script and the cached data V8 made of it the last time; the cache is one file, written a few
// seconds after start-up (so that it holds the functions start-up compiled too) whenever a module
// was compiled without it.
//
// Safe when stale: an entry is used only for the very same source text (its SHA-1, since V8 itself
// checks the length only), the file is used only whole (its SHA-1), V8 refuses data made by another
// version or with other flags (the module is then compiled from source), and the file is replaced by
// a rename (another process starting meanwhile reads the old one or the new one). A module that uses
// import() or that vm.Script cannot compile as a script is compiled by Node as usual.
//
// PARLEY_COMPILE_CACHE: the folder (default: dist/.compile-cache beside this bin/), or `off`. Off as
// well under --enable-source-maps.
const Module = require('node:module');
const vm = require('node:vm');
const path = require('node:path');
const fs = require('node:fs');
const { createHash } = require('node:crypto');

const setting = process.env.PARLEY_COMPILE_CACHE;
const dir = setting || path.join(__dirname, '..', 'dist', '.compile-cache');
// With --enable-source-maps (the test runner sets it) Node maps stack traces through the source maps
// of the modules it compiled itself: those are left to Node then, as without this file.
if (setting !== 'off' && !process.sourceMapsEnabled) install(dir);

function sha1(data) {
  return createHash('sha1').update(data).digest('base64');
}

function install(folder) {
  const file = path.join(folder, `v8-${process.version}-${process.arch}.cache`);
  /** filename -> [source sha1, offset, length] in `blob` */
  let index = {};
  let blob = Buffer.alloc(0);
  try {
    const data = fs.readFileSync(file);
    const headerLength = data.readUInt32LE(0);
    const header = JSON.parse(data.subarray(4, 4 + headerLength).toString('utf8'));
    const body = data.subarray(4 + headerLength);
    if (header.node === process.version && header.sha1 === sha1(body)) {
      index = header.index;
      blob = body;
    }
  } catch {
    // no cache yet, or unreadable: every module is compiled from source (and the cache written)
  }
  const used = new Map(); // filename -> cached data (Buffer) that V8 accepted
  const fresh = new Map(); // filename -> { hash, script } compiled without usable data
  const nodeCompile = Module.prototype._compile;

  let over = false; // start-up is over: later modules are compiled by Node as usual
  Module.prototype._compile = function compileCached(content, filename, format) {
    if (over || format === 'module' || content.includes('import('))
      return nodeCompile.call(this, content, filename, format);
    const hash = sha1(content);
    const entry = index[filename];
    const cachedData = entry && entry[0] === hash ? blob.subarray(entry[1], entry[1] + entry[2]) : undefined;
    let script;
    try {
      script = new vm.Script(Module.wrap(content), {
        filename,
        cachedData,
        importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
      });
    } catch {
      return nodeCompile.call(this, content, filename, format); // not a script (ESM syntax): as Node does it
    }
    if (cachedData && !script.cachedDataRejected) used.set(filename, { hash, data: cachedData });
    else fresh.set(filename, { hash, script });
    const wrapper = script.runInThisContext({ displayErrors: true });
    return wrapper.call(
      this.exports,
      this.exports,
      makeRequire(this),
      this,
      filename,
      path.dirname(filename),
    );
  };

  // once start-up is over: the cache again, if any module was compiled without it
  setTimeout(() => {
    over = true;
    try {
      if (fresh.size > 0) write(file, used, fresh);
    } catch {
      // a folder we cannot write: no cache, start-up as without it
    }
    // nothing of it is kept: the scripts, the cache file's bytes
    used.clear();
    fresh.clear();
    index = {};
    blob = Buffer.alloc(0);
  }, 5000).unref();
}

function write(file, used, fresh) {
  const index = {};
  const parts = [];
  let offset = 0;
  const add = (filename, hash, data) => {
    index[filename] = [hash, offset, data.length];
    parts.push(data);
    offset += data.length;
  };
  for (const [filename, { hash, data }] of used) add(filename, hash, data);
  for (const [filename, { hash, script }] of fresh) add(filename, hash, script.createCachedData());
  const body = Buffer.concat(parts);
  const header = Buffer.from(JSON.stringify({ node: process.version, sha1: sha1(body), index }), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.length, 0);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, Buffer.concat([length, header, body]));
  fs.renameSync(tmp, file);
}

/** The `require` Node gives a module (as its makeRequireFunction does). */
function makeRequire(mod) {
  function require(id) {
    return mod.require(id);
  }
  function resolve(request, options) {
    return Module._resolveFilename(request, mod, false, options);
  }
  resolve.paths = (request) => Module._resolveLookupPaths(request, mod);
  require.resolve = resolve;
  require.main = process.mainModule;
  require.extensions = Module._extensions;
  require.cache = Module._cache;
  return require;
}
