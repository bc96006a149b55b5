import { useCallback, useEffect, useRef, useState } from 'react';
import { asApiError } from './api';

export interface Action {
  /** The action runs: its button is disabled and says so. */
  busy: boolean;
  /** Why it failed, as a sentence; null when it did not (or has not run). */
  error: string | null;
  setError(error: string | null): void;
  /**
   * Run `action` unless one is already running (a second click is ignored). It answers a sentence
   * when it refused to start (a body that does not parse: shown, nothing sent) or nothing; a throw is
   * shown as the server's sentence, after `failed` ("Nothing was imported: "). Resolves true when it
   * went through.
   */
  run(action: () => Promise<string | null | void>, failed?: string): Promise<boolean>;
}

/**
 * The busy and error state of one user action (retry, cancel, fork, re-route, import...), the same
 * everywhere: busy while it runs, the error cleared when it starts and shown when it fails.
 */
export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const running = useRef(false);
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  const run = useCallback(
    async (action: () => Promise<string | null | void>, failed = ''): Promise<boolean> => {
      if (running.current) return false;
      running.current = true;
      setBusy(true);
      setError(null);
      try {
        const problem = await action();
        if (typeof problem === 'string') {
          if (mounted.current) setError(problem);
          return false;
        }
        return true;
      } catch (e) {
        if (mounted.current) setError(`${failed}${asApiError(e).message}`);
        return false;
      } finally {
        running.current = false;
        if (mounted.current) setBusy(false);
      }
    },
    [],
  );

  return { busy, error, setError, run };
}
