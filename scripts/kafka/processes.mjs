// Ports and processes: free ports, liveness, log tails, stopping a pid, and the cleanup of brokers
// started by this process when it goes away (exit handlers and a watchdog).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

/** Find a free TCP port on 127.0.0.1 by binding port 0. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** True if something accepts TCP connections on 127.0.0.1:port. */
export function isPortOpen(port, timeoutMs = 500) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const done = (v) => {
      sock.destroy();
      resolve(v);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** True if a process with this pid exists. */
export function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/** Last `maxBytes` of a text file ('' if absent). */
export function tailFile(file, maxBytes = 6000) {
  try {
    const size = fs.statSync(file).size;
    const fd = fs.openSync(file, 'r');
    try {
      const len = Math.min(size, maxBytes);
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, size - len);
      return buf.toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

// ---- cleanup of in-process brokers when the parent goes away ----------------------------------
export const liveBrokers = new Map(); // pid -> { dataDir, removeDataDir }
let handlersInstalled = false;

function killAllNow() {
  for (const [pid, b] of liveBrokers) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
    // The watchdog (see below) escalates to SIGKILL and removes a temporary data dir.
    void b;
  }
}

export function installExitHandlers() {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killAllNow);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(sig, () => {
      killAllNow();
      // Keep the default behaviour (exit by that signal) unless somebody else handles it.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    });
  }
}

/**
 * A tiny `sh` watchdog: if the parent Node process disappears (even by SIGKILL, where no exit
 * handler runs), it stops the broker (SIGTERM, then SIGKILL after 15 s) and removes a temporary
 * data dir. It exits by itself when the broker exits.
 */
export function spawnWatchdog({ parentPid, brokerPid, removeDir }) {
  const script = `
p=${parentPid}; b=${brokerPid}; d='${removeDir ? removeDir.replace(/'/g, `'\\''`) : ''}'
while kill -0 "$b" 2>/dev/null; do
  if ! kill -0 "$p" 2>/dev/null; then
    kill -TERM "$b" 2>/dev/null
    i=0; while kill -0 "$b" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.1; i=$((i+1)); done
    kill -KILL "$b" 2>/dev/null
    [ -n "$d" ] && sleep 0.5 && rm -rf "$d"
    exit 0
  fi
  sleep 1
done`;
  const wd = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  wd.unref();
  return wd;
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Stop a broker that this process did not start (e.g. the detached dev broker): SIGTERM, wait up to
 * `timeoutMs`, then SIGKILL. Resolves true if a process was stopped.
 */
export async function stopPid(pid, { timeoutMs = 15_000 } = {}) {
  if (!pid || !isAlive(pid)) return false;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return false;
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(100);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
  while (isAlive(pid)) await sleep(50);
  return true;
}
