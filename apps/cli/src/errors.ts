/**
 * Exit codes scripts can rely on (docs/CLI.md, `parley --help`). Never renumber them.
 */
export const EXIT = {
  ok: 0,
  /** Unknown command or flag, a missing or bad argument. Nothing was sent. */
  usage: 1,
  /** The server refused the request (4xx other than 404): its code and message are printed. */
  refused: 2,
  /** The server cannot be reached, or it failed (5xx). */
  unreachable: 3,
  /** Verification failed: the log is tampered with, broken or unreadable. */
  verification: 4,
  /** Not found: the run, request or file (HTTP 404). */
  notFound: 5,
  /** `run watch`: the run ended failed or cancelled. */
  runFailed: 6,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error that ends the command with a message on stderr and a chosen exit code. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message);
  }
}

export const usageError = (message: string): CliError => new CliError(EXIT.usage, message);
