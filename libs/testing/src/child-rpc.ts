import { fork, type ChildProcess } from 'node:child_process';

/**
 * Request/response over a child process's IPC channel, each answer matched to its request by id.
 * Tests and benchmarks use it to spread many socket.io clients over processes (as users would be
 * spread over machines), so that the clients' work does not share the caller's event loop.
 *
 * Parent: `const child = ChildRpc.fork(file)`, then `await child.ask(request)`.
 * Child: `serveRpc(async (request) => result)`.
 */
export class ChildRpc<Request> {
  private next = 0;
  private readonly waiting = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  readonly exited: Promise<void>;

  constructor(readonly process: ChildProcess) {
    process.on('message', (m: { id: number; ok: boolean; result?: unknown; error?: string }) => {
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.ok) w?.resolve(m.result);
      else w?.reject(new Error(`child process ${process.pid}: ${m.error}`));
    });
    this.exited = new Promise((resolve) =>
      process.on('exit', (code, signal) => {
        for (const w of this.waiting.values())
          w.reject(new Error(`child process ${process.pid} exited (${code ?? signal})`));
        this.waiting.clear();
        resolve();
      }),
    );
  }

  /** Fork `file` (compiled JS) with the `@parley/*` paths registered and the parent's stdout/stderr. */
  static fork<Request>(file: string, execArgv: string[] = process.execArgv): ChildRpc<Request> {
    return new ChildRpc<Request>(
      fork(file, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
    );
  }

  ask<T = any>(request: Request): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.process.send({ id, request });
    });
  }
}

/** The child's side: answer each request with `handle`'s result or error; exit when the parent goes. */
export function serveRpc<Request>(handle: (request: Request) => Promise<unknown>): void {
  process.on('message', (message: { id: number; request: Request }) => {
    handle(message.request).then(
      (result) => process.send!({ id: message.id, ok: true, result }),
      (error: unknown) =>
        process.send!({
          id: message.id,
          ok: false,
          error: error instanceof Error ? error.stack : String(error),
        }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}

/** `total` split over `parts` as evenly as possible (the first ones get one more). */
export function shares(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, p) => Math.floor(total / parts) + (p < total % parts ? 1 : 0));
}
