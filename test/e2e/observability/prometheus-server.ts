import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, waitFor } from '@parley/testing';

export const PROMETHEUS = process.env.PROMETHEUS_PATH ?? '/usr/bin/prometheus';

/** A free loopback port (listen on 0, read it, close). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A real Prometheus server (Debian's package: scripts/ensure-prometheus.mjs installs it when it is
 * missing) on a free port, with its own config and data folder, scraping one target every second.
 */
export class PrometheusServer {
  private output = '';

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
    private readonly dir: string,
  ) {
    child.stdout!.on('data', (c: Buffer) => (this.output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (this.output += c.toString()));
  }

  static async start(target: {
    host: string;
    metricsPath: string;
    bearer?: string;
  }): Promise<PrometheusServer> {
    const installed = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'ensure-prometheus.mjs')], {
      stdio: 'inherit',
    });
    if (installed.status !== 0)
      throw new Error(`Prometheus is missing at ${PROMETHEUS} and could not be installed`);
    const dir = mkdtempSync(join(tmpdir(), 'parley-prometheus-'));
    const config = [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      'scrape_configs:',
      '  - job_name: parley',
      `    metrics_path: ${target.metricsPath}`,
      ...(target.bearer
        ? ['    authorization:', '      type: Bearer', `      credentials: ${target.bearer}`]
        : []),
      '    static_configs:',
      `      - targets: ['${target.host}']`,
      '',
    ].join('\n');
    writeFileSync(join(dir, 'prometheus.yml'), config);
    const port = await freePort();
    const child = spawn(
      PROMETHEUS,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const server = new PrometheusServer(child, `http://127.0.0.1:${port}`, dir);
    await waitFor(
      'Prometheus to be ready',
      async () => {
        if (child.exitCode !== null) throw new Error(`Prometheus exited: ${server.output.slice(-2000)}`);
        return (await fetch(`${server.url}/-/ready`).catch(() => undefined))?.ok;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    return server;
  }

  /** An instant query through the HTTP API: the samples' label sets and values. */
  async query(expr: string): Promise<Array<{ metric: Record<string, string>; value: number }>> {
    const response = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await response.json()) as {
      status: string;
      error?: string;
      data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
    };
    if (body.status !== 'success') throw new Error(`query ${expr}: ${body.error}`);
    return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }

  /** The one value of a query that answers one sample (undefined when it answers none). */
  async value(expr: string): Promise<number | undefined> {
    const result = await this.query(expr);
    if (result.length > 1) throw new Error(`query ${expr} answered ${result.length} samples`);
    return result[0]?.value;
  }

  async targets(): Promise<Array<{ health: string; lastError: string; scrapeUrl: string }>> {
    const body = (await (await fetch(`${this.url}/api/v1/targets`)).json()) as {
      data: { activeTargets: Array<{ health: string; lastError: string; scrapeUrl: string }> };
    };
    return body.data.activeTargets;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
