import { HttpAgent } from '@ag-ui/client';
import type { BaseEvent, Interrupt, RunAgentInput } from '@ag-ui/core';
import { EventSchemas } from '@ag-ui/core/schemas';
import { AG_UI_CUSTOM_EVENTS, AgUiInterruptDetails, type AgUiCustomEventName } from '@parley/contracts';
import { TEST_USERS, type ParleyProcess, type TestUser } from '@parley/testing';

/** A real AG-UI client (`@ag-ui/client`'s HttpAgent) of a Parley server, acting as a test user. */
export function aguiAgent(
  server: ParleyProcess,
  user: TestUser,
  workflow: string,
  threadId?: string,
): HttpAgent {
  return new HttpAgent({
    url: `${server.url}/api/ag-ui/${workflow}`,
    headers: { Authorization: `Bearer ${TEST_USERS[user].token}` },
    ...(threadId ? { threadId } : {}),
  });
}

export type AnyEvent = BaseEvent & Record<string, any>;

/**
 * One AG-UI run of `agent`: every event it applied, each checked against @ag-ui/core's own schema
 * (the client validates too, and strips what it does not know: the check here sees it was never
 * there), and the outgoing input as the client sent it.
 */
export async function runOnce(
  agent: HttpAgent,
  params: Parameters<HttpAgent['runAgent']>[0] = {},
): Promise<{ events: AnyEvent[]; input: RunAgentInput }> {
  const events: AnyEvent[] = [];
  let input: RunAgentInput | undefined;
  await agent.runAgent(params, {
    onEvent: ({ event, input: sent }) => {
      input = sent;
      EventSchemas.parse(event);
      events.push(event as AnyEvent);
    },
  });
  return { events, input: input! };
}

/** What a refused run throws: the HTTP status and Parley's coded error body. */
export async function refused(
  promise: Promise<unknown>,
): Promise<{ status: number; error: { code: string; message: string; field?: string } }> {
  try {
    await promise;
  } catch (error) {
    const e = error as {
      status?: number;
      payload?: { error: { code: string; message: string; field?: string } };
    };
    if (e.status && e.payload?.error) return { status: e.status, error: e.payload.error };
    throw error;
  }
  throw new Error('the run was not refused');
}

export const typesOf = (events: AnyEvent[]): string[] => events.map((e) => e.type);

export function finished(events: AnyEvent[]): AnyEvent {
  const last = events[events.length - 1];
  if (last?.type !== 'RUN_FINISHED') throw new Error(`the run did not finish: ${JSON.stringify(last)}`);
  return last;
}

/** The interrupts of a stream's RUN_FINISHED, with Parley's details checked against the contract. */
export function interruptsOf(events: AnyEvent[]): Array<Interrupt & { parley: AgUiInterruptDetails }> {
  const outcome = finished(events).outcome;
  if (outcome?.type !== 'interrupt') throw new Error(`not an interrupt: ${JSON.stringify(outcome)}`);
  return outcome.interrupts.map((i: Interrupt) => ({
    ...i,
    parley: AgUiInterruptDetails.parse(i.metadata?.parley),
  }));
}

/** The `parley:*` CUSTOM events of a stream named `name`, their values checked against the contract. */
export function customs<N extends AgUiCustomEventName>(events: AnyEvent[], name: N): any[] {
  return events
    .filter((e) => e.type === 'CUSTOM' && e.name === name)
    .map((e) => AG_UI_CUSTOM_EVENTS[name].parse(e.value));
}

let ids = 0;
export function userMessage(content: string): { id: string; role: 'user'; content: string } {
  return { id: `user-${process.pid}-${++ids}`, role: 'user', content };
}
