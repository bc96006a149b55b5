import { readFileSync } from 'node:fs';

/** What /proc says about a process now (Linux); NaN elsewhere or once it has exited. */
export interface ProcStats {
  /** Resident set size (VmRSS), bytes: anonymous + file-backed + shared memory. */
  rssBytes: number;
  /** Its parts: anonymous memory (the heaps), file pages mapped (code, mmapped files), shared memory. */
  rssAnonBytes: number;
  rssFileBytes: number;
  rssShmemBytes: number;
  /** CPU time used so far (user + system, all threads), ms. */
  cpuMs: number;
}

/** RSS and CPU time of the process `pid`, read from /proc/<pid>/status and /proc/<pid>/stat. */
export function procStats(pid: number | undefined): ProcStats {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number =>
      Number(new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime, stime in clock ticks (USER_HZ, 100 on Linux)
    const cpuMs = ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
    return {
      rssBytes: kb('VmRSS'),
      rssAnonBytes: kb('RssAnon'),
      rssFileBytes: kb('RssFile'),
      rssShmemBytes: kb('RssShmem'),
      cpuMs,
    };
  } catch {
    return { rssBytes: NaN, rssAnonBytes: NaN, rssFileBytes: NaN, rssShmemBytes: NaN, cpuMs: NaN };
  }
}
