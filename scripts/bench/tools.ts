/**
 * 8. What a tool from outside costs per call, over a built-in one: the same trivial call through the
 * registry the engine uses (`ToolRegistry.execute`: argument parsing, then the tool), one at a time,
 * after a warm-up. The engine's path around a call (intent, gates, result appended) is the same for
 * every tool and is measured by `engine`; what differs is only this.
 *
 * - built-in: `lookup_order`, the example tools module (in-process, a hash of the order id);
 * - HTTP: an `http` tool of the tools file against a local `node:http` server answering JSON;
 * - MCP stdio: `echo` of @modelcontextprotocol/server-everything, a child process over stdio;
 * - MCP Streamable HTTP: the same server's `echo` over Streamable HTTP.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTools } from '../../apps/server/src/tools/tool-sources';
import { log, now, report, scaled, summarize } from './common';

const ROOT = join(__dirname, '..', '..', '..');
const EVERYTHING = join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-tools-'));
  const http = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const httpPort = (http.address() as { port: number }).port;
  const everythingPort = 20_000 + Math.floor(Math.random() * 20_000);
  const everything = spawn(process.execPath, [EVERYTHING, 'streamableHttp'], {
    env: { ...process.env, PORT: String(everythingPort) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    everything.stderr!.on('data', (c: Buffer) => {
      out += c.toString();
      if (/listening on port/i.test(out)) resolve();
    });
    everything.once('exit', () => reject(new Error(`server-everything exited: ${out}`)));
  });
  const toolsFile = join(dir, 'bench.tools.json');
  writeFileSync(
    toolsFile,
    JSON.stringify({
      modules: [join(ROOT, 'dist/apps/server/src/tools/example-tools.js')],
      http: [
        {
          name: 'bench.ping',
          description: 'ping',
          url: `http://127.0.0.1:${httpPort}/ping`,
          input: { type: 'object', properties: { order_id: { type: 'string' } } },
          idempotent: true,
        },
      ],
      mcpServers: {
        stdio: { command: process.execPath, args: [EVERYTHING, 'stdio'], trusted: true },
        streamable: { url: `http://127.0.0.1:${everythingPort}/mcp`, trusted: true },
      },
    }),
  );
  const tools = await loadTools({ file: toolsFile, dataDir: dir, warn: log });
  const calls = scaled(1000);
  const cases = [
    { name: 'built-in (module, in-process)', tool: 'lookup_order', args: { order_id: 'A123' } },
    { name: 'HTTP tool (local server)', tool: 'bench.ping', args: { order_id: 'A123' } },
    { name: 'MCP stdio (server-everything echo)', tool: 'stdio.echo', args: { message: 'A123' } },
    {
      name: 'MCP Streamable HTTP (server-everything echo)',
      tool: 'streamable.echo',
      args: { message: 'A123' },
    },
  ];
  let baseline = 0;
  try {
    for (const c of cases) {
      const call = (i: number) =>
        tools.registry.execute(c.tool, c.args, {
          runId: 'bench',
          callId: `c${i}`,
          idempotencyKey: `bench:c${i}`,
        });
      for (let i = 0; i < Math.min(100, calls); i++) await call(i); // warm-up
      const samples: number[] = [];
      for (let i = 0; i < calls; i++) {
        const t0 = now();
        await call(i);
        samples.push(now() - t0);
      }
      const s = summarize(samples);
      if (c.tool === 'lookup_order') baseline = s.mean;
      report({
        bench: 'tools',
        store: '-',
        name: `per call: ${c.name}`,
        value: s.mean,
        unit: 'ms',
        extra: { p50: s.p50, p99: s.p99, overBuiltInMs: s.mean - baseline, calls: s.n },
      });
    }
  } finally {
    await tools.close();
    everything.kill('SIGTERM');
    http.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    log(`tools bench failed: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
  },
);
