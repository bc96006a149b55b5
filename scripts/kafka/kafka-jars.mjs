// The Kafka broker's runtime class path, downloaded once from Maven Central into the cache.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { HERE, KAFKA_CACHE_DIR, KAFKA_VERSION, defaultLog, majorOf } from './kafka-paths.mjs';
import { isAlive } from './processes.mjs';

const POM = path.join(HERE, 'pom.xml');
const MARKER = '.complete.json';

function sha256(file) {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function readMarker(dir) {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, MARKER), 'utf8'));
  } catch {
    return null;
  }
}

function markerIsValid(libsDir, marker, pomHash) {
  if (!marker || marker.pomSha256 !== pomHash || !Array.isArray(marker.jars)) return false;
  return marker.jars.length > 0 && marker.jars.every((j) => fs.existsSync(path.join(libsDir, j)));
}

/**
 * Make sure the Kafka broker's runtime class path is in `<repo>/.cache/kafka/<version>/libs`.
 * Downloads it once with Maven (`dependency:copy-dependencies`); a marker file written after a
 * complete download makes later calls instant. An interrupted download leaves no marker, so it is
 * redone. Changing scripts/kafka/pom.xml invalidates the cache (its hash is in the marker).
 *
 * @param {{ log?: (msg: string) => void, version?: string }} [opts]
 * @returns {Promise<string>} absolute path of the libs dir (use `<libs>/*` as class path)
 */
export async function ensureKafkaJars({ log = defaultLog, version = KAFKA_VERSION } = {}) {
  const versionDir = path.join(KAFKA_CACHE_DIR, version);
  const libsDir = path.join(versionDir, 'libs');
  const pomHash = sha256(POM);
  if (markerIsValid(libsDir, readMarker(libsDir), pomHash)) return libsDir;

  fs.mkdirSync(versionDir, { recursive: true });
  // Leftovers of interrupted downloads (their process is gone) are never trusted: remove them.
  for (const f of fs.readdirSync(versionDir)) {
    const m = /^libs\.tmp-(\d+)-/.exec(f);
    if (m && !isAlive(Number(m[1]))) fs.rmSync(path.join(versionDir, f), { recursive: true, force: true });
  }
  const tmpDir = path.join(versionDir, `libs.tmp-${process.pid}-${randomBytes(3).toString('hex')}`);
  fs.rmSync(tmpDir, { recursive: true, force: true });

  const args = [
    '-q',
    '-B',
    '-f',
    POM,
    `-Dkafka.version=${version}`,
    ...(majorOf(version) < 4 ? ['-Dkafka.logging=reload4j'] : []),
    'dependency:copy-dependencies',
    '-DincludeScope=runtime',
    `-DoutputDirectory=${tmpDir}`,
  ];
  log(
    `downloading Apache Kafka ${version} jars from Maven Central into ${libsDir} (first time only; ~50 MB)`,
  );
  const started = Date.now();
  const ticker = setInterval(() => {
    log(
      `  still downloading (mvn dependency:copy-dependencies)... ${Math.round((Date.now() - started) / 1000)} s`,
    );
  }, 10_000);
  let result;
  try {
    result = await new Promise((resolve, reject) => {
      const child = spawn('mvn', args, { cwd: HERE, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      child.on('error', (err) =>
        reject(new Error(`could not run mvn (is Maven installed and on PATH?): ${err.message}`)),
      );
      child.on('close', (code, signal) => resolve({ code, signal, out }));
    });
  } finally {
    clearInterval(ticker);
  }
  if (result.code !== 0) {
    fs.rmSync(tmpDir, { recursive: true, force: true });
    throw new Error(
      `mvn ${args.join(' ')} failed (exit ${result.code ?? result.signal}):\n${result.out.slice(-4000)}`,
    );
  }
  const jars = fs
    .readdirSync(tmpDir)
    .filter((f) => f.endsWith('.jar'))
    .sort();
  if (!jars.some((j) => j.startsWith(`kafka_2.13-${version}`))) {
    fs.rmSync(tmpDir, { recursive: true, force: true });
    throw new Error(`mvn finished but kafka_2.13-${version}.jar is missing from ${tmpDir}`);
  }
  fs.writeFileSync(
    path.join(tmpDir, MARKER),
    JSON.stringify({ version, pomSha256: pomHash, jars, downloadedAt: new Date().toISOString() }, null, 2),
  );
  // Swap into place. Another process may have finished the same download meanwhile: then keep its copy.
  if (markerIsValid(libsDir, readMarker(libsDir), pomHash)) {
    fs.rmSync(tmpDir, { recursive: true, force: true });
  } else {
    fs.rmSync(libsDir, { recursive: true, force: true });
    fs.renameSync(tmpDir, libsDir);
  }
  const mb = jars.reduce((s, j) => s + fs.statSync(path.join(libsDir, j)).size, 0) / 1e6;
  log(
    `downloaded ${jars.length} jars (${mb.toFixed(1)} MB) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return libsDir;
}
