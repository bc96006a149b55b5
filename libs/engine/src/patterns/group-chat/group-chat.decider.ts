import { z } from 'zod';
import type { NewEvent, Workflow } from '@parley/contracts';
import type { RunState } from '../../run-state';
import type { ChatMessage, DecideContext, Step } from '../../steps';
import { SYSTEM_ACTOR, agentActor, callModel, callStep, callsFor, completed, finish, last } from '../shared';
import { openRequestEvent, outcomeOf, requestsAbout } from '../../hitl/requests';
import { agentTurn, turnOutputs, turnStep } from '../agent-turn';

type GroupChat = Extract<Workflow, { pattern: 'group-chat' }>;

export function nextSpeakerSchema(participants: string[]) {
  return z.strictObject({
    next: z.enum(participants as [string, ...string[]]),
    terminate: z.boolean(),
    reason: z.string(),
  });
}

/**
 * A group chat: participants speak in turn (round-robin, or as a manager selects). Humans take part:
 * a message posted at any time is seen by the next speaker; with a human seat, the floor is given to
 * a human after the opening round and the chat waits for them until a deadline.
 */
export function decideGroupChat(state: RunState, wf: GroupChat, ctx: DecideContext): Step {
  const turns = turnOutputs(state, 'turn');
  const lastTurn = last(turns);
  if (turns.length >= wf.maxTurns) return finish(summary(state));
  const floor = requestsAbout(state, (s) => s.type === 'floor');
  // With a human seat, the termination word ends the chat only once the floor has been given: humans
  // who spoke early make the chat look long enough to end, and the seat is still owed to them.
  const seatGiven = !wf.humanSeat || (floor.length > 0 && (lastTurn?.seq ?? 0) > floor[0].openedSeq);
  if (wf.terminationWord && seatGiven && lastTurn?.content.includes(wf.terminationWord))
    return finish(summary(state));

  if (wf.humanSeat) {
    const afterTurns = wf.humanSeat.afterTurns ?? wf.participants.length;
    if (turns.length >= afterTurns && floor.length === 0) {
      const moderator = lastTurn?.agent ?? 'moderator';
      return {
        kind: 'append',
        events: [
          openRequestEvent(state, ctx, {
            kind: 'input',
            subject: { type: 'floor', turn: turns.length },
            title: 'You have the floor',
            ask: `The ${moderator} gives the floor to a human participant: say what you think, or skip.`,
            payload: { topic: state.input, transcript: transcriptText(state).slice(-4000) },
            gate: {
              roles: wf.humanSeat.roles,
              timeout: { after: wf.humanSeat.deadline, then: 'continue' },
            },
          }),
        ],
      };
    }
    const open = floor.find((r) => outcomeOf(r) === 'open');
    if (open) return { kind: 'wait' };
  }

  const selected = last(state.speakers);
  const pending = selected && (!lastTurn || selected.seq > lastTurn.seq) ? selected.speaker : undefined;
  let speaker = pending;
  if (!speaker) {
    if (wf.selection === 'manager' && wf.manager) {
      const selections = completed(callsFor(state, 'select')).filter(
        (c) => !lastTurn || c.seq > lastTurn.seq,
      );
      const selection = last(selections);
      if (!selection) {
        return callStep(
          callModel(
            state,
            ctx,
            wf.manager,
            'select',
            [{ role: 'user', content: `Topic: ${state.input}` }, ...transcriptMessages(state)],
            {
              structured: { name: 'next_speaker', schema: nextSpeakerSchema(wf.participants) },
            },
          ),
        );
      }
      const choice = selection.structured as z.infer<ReturnType<typeof nextSpeakerSchema>>;
      if (choice.terminate) return finish(summary(state));
      const events: NewEvent[] = [
        {
          type: 'speaker.selected',
          actor: agentActor(wf.manager),
          data: { speaker: choice.next, reason: choice.reason },
        },
      ];
      return { kind: 'append', events };
    }
    speaker = wf.participants[turns.length % wf.participants.length];
    return {
      kind: 'append',
      events: [{ type: 'speaker.selected', actor: SYSTEM_ACTOR, data: { speaker, reason: 'round-robin' } }],
    };
  }
  // The turn opened with the selection: the speaker's own calls after it are steps of this turn
  // (tool calls and results), which the tool loop adds; the chat is what was said before them.
  const opened = selected!.seq;
  const messages: ChatMessage[] = [
    { role: 'user', content: `Topic: ${state.input}` },
    ...transcriptMessages(state, speaker, opened),
  ];
  return turnStep(agentTurn(state, ctx, { agent: speaker, purpose: 'turn', after: opened, messages }));
}

/**
 * The chat so far as the speaker sees it: its own turns as assistant, everyone else's as
 * `[name] text`, humans under their own id (a floor answer, a message). Agent entries after
 * `turnOpened` are the current turn's steps, which the tool loop shows on its own.
 */
function transcriptMessages(state: RunState, self?: string, turnOpened = Infinity): ChatMessage[] {
  return state.transcript
    .filter((t) => t.seq > 1 && (t.role === 'agent' || t.role === 'human'))
    .filter((t) => t.role === 'human' || t.seq < turnOpened)
    .map((t) =>
      t.role === 'agent' && t.speaker === self
        ? { role: 'assistant' as const, content: t.content }
        : { role: 'user' as const, content: `[${t.speaker}] ${t.content}` },
    );
}

function transcriptText(state: RunState): string {
  return transcriptMessages(state)
    .map((m) => m.content)
    .join('\n');
}

function summary(state: RunState): string {
  const turns = state.transcript.filter((t) => t.seq > 1 && (t.role === 'agent' || t.role === 'human'));
  return turns.map((t) => `[${t.speaker}] ${t.content}`).join('\n');
}
