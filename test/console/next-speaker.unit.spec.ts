import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextSpeaker, type SpeakerEvent } from '../../apps/console/src/next-speaker';

/** The console's "who speaks next" (apps/console/src/next-speaker.ts), on the events a run page holds. */
const started = (agent: string): SpeakerEvent => ({ type: 'model-call.started', data: { agent } });
const completed = (agent: string): SpeakerEvent => ({ type: 'model-call.completed', data: { agent } });
const selected = (speaker: string): SpeakerEvent => ({ type: 'speaker.selected', data: { speaker } });
const view = (pattern: string, kinds: string[] = [], status = 'running') => ({
  status,
  pattern,
  pendingRequests: kinds.map((kind) => ({ kind })),
});

describe('console: who speaks next', () => {
  it('names the selected speaker, or the agent whose call started last', () => {
    const chat = [started('optimist'), completed('optimist'), selected('skeptic')];
    assert.deepEqual(nextSpeaker(view('group-chat'), chat), { kind: 'agent', name: 'skeptic' });
    assert.deepEqual(nextSpeaker(view('sequential'), [started('writer')]), { kind: 'agent', name: 'writer' });
    assert.equal(nextSpeaker(view('group-chat', [], 'completed'), chat), null);
  });

  it("names no agent while the floor is a human's", () => {
    const chat = [selected('moderator'), started('moderator'), completed('moderator')];
    assert.deepEqual(nextSpeaker(view('group-chat', ['input'], 'waiting'), chat), { kind: 'human' });
  });

  it('names no agent while a specialist holds a handoff (not the triage that spoke last)', () => {
    const routed = [
      started('triage'),
      completed('triage'),
      { type: 'handoff.performed', data: { from: 'triage', to: 'billing', reason: 'r' } },
    ];
    assert.equal(nextSpeaker(view('handoff', ['review'], 'waiting'), routed), null);
    assert.equal(nextSpeaker(view('handoff'), [...routed, started('billing')]), null);
    assert.deepEqual(nextSpeaker(view('handoff'), [started('triage')]), { kind: 'agent', name: 'triage' });
  });
});
