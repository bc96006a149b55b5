import {
  decideHumanCommand,
  validateEdit,
  type HumanCommand,
  type HumanCommandResults,
  type RunEngine,
  type ToolRegistry,
} from '@parley/engine';
import type { RunEvent } from '@parley/contracts';
import { acting } from '../auth/acting';
import type { Human } from '../auth/identity';

/**
 * What every human command's handler does: under the run's lock, decide the command against the
 * run's own state (`decideHumanCommand`) and append its events with the expected seq; with `drive`,
 * what the run does next goes into the same append and the engine drives it from there.
 */
export async function decideOnRun<C extends HumanCommand>(
  engine: RunEngine,
  runId: string,
  by: Human,
  command: C,
  options: { drive?: boolean; tools?: ToolRegistry } = {},
): Promise<{ events: RunEvent[]; result: HumanCommandResults[C['type']] }> {
  const { events, result } = await engine.write(
    runId,
    (state) =>
      decideHumanCommand(state, acting(by), command, {
        now: new Date(),
        validateEdit: (request, payload) => {
          if (!options.tools) throw new Error(`${command.type} edits nothing`);
          validateEdit(state, request, payload, options.tools);
        },
      }),
    { drive: options.drive },
  );
  return { events, result };
}
