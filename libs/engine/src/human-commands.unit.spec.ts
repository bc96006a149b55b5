import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NewEvent } from '@parley/contracts';
import { ValidationError } from '@parley/contracts';
import {
  SYSTEM,
  actingAs,
  agent,
  expired,
  given,
  humanActor,
  loadWorkflow,
  modelCall,
  resolve,
  testContext,
  T0,
} from '@parley/testing';
import type { Acting, DecisionInput } from './human-commands';
import {
  cancelRun,
  claimRequest,
  decideOnRequest,
  expireRequest,
  overrideHandoff,
  postMessage,
  shownPayload,
} from './human-commands';
import type { HumanRequestState, RunState } from './run-state';
import { sha256 } from './patterns/shared';

const refundDesk = loadWorkflow('refund-desk');
const HASH = 'a'.repeat(64);

const bob = actingAs('bob', 'approver');
const carol = actingAs('carol', 'approver');
const alice = actingAs('alice', 'approver'); // the requester of every run here
const root = actingAs('root', 'admin');
const mallory = actingAs('mallory', 'viewer');

function opened(requestId: string, extra: Record<string, unknown> = {}): NewEvent {
  return {
    type: 'human-request.opened',
    actor: SYSTEM,
    data: {
      requestId,
      kind: 'approval',
      subject: { type: 'tool-call', callId: 'm1.0' },
      title: 'Approve process_refund',
      ask: 'ok?',
      payload: { tool: 'process_refund', args: { amount: 150 } },
      payloadHash: HASH,
      decisions: ['approve', 'reject', 'edit'],
      roles: ['approver'],
      requester: 'alice',
      deadline: null,
      onTimeout: null,
      ...extra,
    },
  };
}

const noValidation = (): void => undefined;

/** The command under test: a decision at T0. */
const decideAs =
  (who: typeof bob, input: DecisionInput, requestId = 'r1', now = T0) =>
  (state: RunState) =>
    decideOnRequest(state, requestId, who, input, now, noValidation);

const recorded = (
  requestId: string,
  by: { id: string; role: string },
  decision: string,
  extra: { comment?: string; payload?: unknown; payloadHash?: string } = {},
): NewEvent => ({
  type: 'human-decision.recorded',
  actor: humanActor(by.id),
  data: {
    requestId,
    decision,
    by,
    comment: extra.comment,
    payload: extra.payload,
    payloadHash: extra.payloadHash ?? HASH,
  },
});

const resolved = (
  requestId: string,
  by: { id: string; role: string },
  outcome: string,
  deciders = [by],
  extra: { comment?: string; payload?: unknown } = {},
): NewEvent => ({
  type: 'human-request.resolved',
  actor: humanActor(by.id),
  data: { requestId, outcome, payload: extra.payload, comment: extra.comment, deciders },
});

const requestIn = (state: RunState, requestId = 'r1'): HumanRequestState =>
  state.requests.find((r) => r.requestId === requestId)!;

describe('decideOnRequest', () => {
  const approval = given(refundDesk, [opened('r1')]);
  const B = { id: 'bob', role: 'approver' };

  it('an approver approves: the decision and the resolution, in one batch', () => {
    approval.whenCommand(decideAs(bob, { decision: 'approve', comment: 'ok' })).then({
      events: [
        recorded('r1', B, 'approve', { comment: 'ok' }),
        resolved('r1', B, 'approve', [B], { comment: 'ok' }),
      ],
      result: { status: 'resolved', request: requestIn(approval.state) },
    });
  });

  it('a request decided by the engine itself (refund over $100) is answered with its own payload hash', () => {
    const g = given(
      refundDesk,
      [
        ...modelCall('m1', 'refund-agent', 'reply', {
          toolCalls: [{ id: 't1', name: 'process_refund', arguments: { orderId: '1001', amount: 150 } }],
        }),
      ],
      { requestedBy: 'alice' },
    );
    const withGate = g.andStep(g.when(testContext({ ids: 'req' })).result);
    const request = requestIn(withGate.state, 'req-1');
    assert.equal(
      request.payloadHash,
      sha256({ tool: 'process_refund', args: { orderId: '1001', amount: 150 } }),
    );
    withGate
      .whenCommand(decideAs(bob, { decision: 'approve', payloadHash: request.payloadHash }, 'req-1'))
      .thenMatch(({ events, result }) => {
        assert.deepStrictEqual(
          events.map((e) => e.type),
          ['human-decision.recorded', 'human-request.resolved'],
        );
        assert.equal(result.status, 'resolved');
      });
  });

  describe('who may decide', () => {
    it('someone without the role is refused', () => {
      approval
        .whenCommand(decideAs(mallory, { decision: 'approve' }))
        .thenThrows('REQUEST.FORBIDDEN', 'forbidden');
    });

    it('a custom role answers under that role', () => {
      const g = given(refundDesk, [opened('r1', { roles: ['legal'] })]);
      const L = { id: 'lena', role: 'legal' };
      g.whenCommand(decideAs(actingAs('lena', 'legal'), { decision: 'reject', comment: 'no' })).then({
        events: [
          recorded('r1', L, 'reject', { comment: 'no' }),
          resolved('r1', L, 'reject', [L], { comment: 'no' }),
        ],
        result: { status: 'resolved', request: requestIn(g.state) },
      });
      g.whenCommand(decideAs(bob, { decision: 'approve' })).thenThrows('REQUEST.FORBIDDEN');
    });

    it('a confirmation for user:<id> is answered by that user only (as requester), or an admin', () => {
      const g = given(refundDesk, [
        opened('r1', { kind: 'confirmation', roles: ['user:alice'], decisions: ['confirm', 'decline'] }),
      ]);
      const A = { id: 'alice', role: 'requester' };
      g.whenCommand(decideAs(actingAs('alice', 'viewer'), { decision: 'confirm' })).then({
        events: [recorded('r1', A, 'confirm'), resolved('r1', A, 'confirm')],
        result: { status: 'resolved', request: requestIn(g.state) },
      });
      g.whenCommand(decideAs(bob, { decision: 'confirm' })).thenThrows('REQUEST.FORBIDDEN');
      g.whenCommand(decideAs(actingAs('alicex', 'approver'), { decision: 'confirm' })).thenThrows(
        'REQUEST.FORBIDDEN',
      );
      const R = { id: 'root', role: 'requester' }; // as the server's identity rules have it
      g.whenCommand(decideAs(root, { decision: 'decline' })).then({
        events: [recorded('r1', R, 'decline'), resolved('r1', R, 'decline')],
        result: { status: 'resolved', request: requestIn(g.state) },
      });
    });

    it('an admin holds every role', () => {
      const R = { id: 'root', role: 'admin' };
      approval.whenCommand(decideAs(root, { decision: 'approve' })).then({
        events: [recorded('r1', R, 'approve'), resolved('r1', R, 'approve')],
        result: { status: 'resolved', request: requestIn(approval.state) },
      });
    });

    it('four-eyes refuses the requester, even an admin requester; others may decide', () => {
      const g = given(refundDesk, [opened('r1', { fourEyes: true })], { requestedBy: 'alice' });
      g.whenCommand(decideAs(alice, { decision: 'approve' })).thenThrows('REQUEST.FOUR_EYES', 'forbidden');
      g.whenCommand(decideAs(actingAs('alice', 'admin'), { decision: 'reject' })).thenThrows(
        'REQUEST.FOUR_EYES',
      );
      g.whenCommand(decideAs(bob, { decision: 'approve' })).thenMatch(({ result }) =>
        assert.equal(result.status, 'resolved'),
      );
      // without four-eyes the requester may approve their own request
      approval
        .whenCommand(decideAs(alice, { decision: 'approve' }))
        .thenMatch(({ result }) => assert.equal(result.status, 'resolved'));
    });
  });

  describe('quorum', () => {
    const quorum2 = given(refundDesk, [opened('r1', { quorum: 2 })]);
    const C = { id: 'carol', role: 'approver' };

    it('the first approval is only recorded', () => {
      quorum2.whenCommand(decideAs(bob, { decision: 'approve' })).then({
        events: [recorded('r1', B, 'approve')],
        result: { status: 'recorded', request: requestIn(quorum2.state), votes: 1, quorum: 2 },
      });
    });

    it('a second, distinct human resolves it; both are deciders', () => {
      const g = quorum2.and(recorded('r1', B, 'approve'));
      g.whenCommand(decideAs(carol, { decision: 'approve', comment: 'agreed' })).then({
        events: [
          recorded('r1', C, 'approve', { comment: 'agreed' }),
          resolved('r1', C, 'approve', [B, C], { comment: 'agreed' }),
        ],
        result: { status: 'resolved', request: requestIn(g.state) },
      });
    });

    it('the same human approving again is idempotent: no events, unchanged', () => {
      const g = quorum2.and(recorded('r1', B, 'approve'));
      g.whenCommand(decideAs(bob, { decision: 'approve' })).then({
        events: [],
        result: { status: 'unchanged', request: requestIn(g.state) },
      });
    });

    it('the same human deciding differently is refused', () => {
      quorum2
        .and(recorded('r1', B, 'approve'))
        .whenCommand(decideAs(bob, { decision: 'reject' }))
        .thenThrows('REQUEST.ALREADY_DECIDED', 'conflict');
    });

    it('one rejection settles it at once', () => {
      quorum2.whenCommand(decideAs(bob, { decision: 'reject', comment: 'no' })).then({
        events: [
          recorded('r1', B, 'reject', { comment: 'no' }),
          resolved('r1', B, 'reject', [B], { comment: 'no' }),
        ],
        result: { status: 'resolved', request: requestIn(quorum2.state) },
      });
    });

    it('an edit is a vote towards the quorum: one approver cannot settle it alone by editing', () => {
      const edited = { tool: 'process_refund', args: { amount: 120 } };
      quorum2.whenCommand(decideAs(bob, { decision: 'edit', payload: edited })).then({
        events: [recorded('r1', B, 'edit', { payload: edited })],
        result: { status: 'recorded', request: requestIn(quorum2.state), votes: 1, quorum: 2 },
      });
      const g = quorum2.and(recorded('r1', B, 'edit', { payload: edited }));
      const shown = sha256(edited);
      g.whenCommand(decideAs(carol, { decision: 'approve', payloadHash: shown })).then({
        events: [
          recorded('r1', C, 'approve', { payloadHash: shown }),
          resolved('r1', C, 'edit', [B, C], { payload: edited }),
        ],
        result: { status: 'resolved', request: requestIn(g.state) },
      });
    });
  });

  describe('a decision is bound to the hash of what was shown', () => {
    const quorum2 = given(refundDesk, [opened('r1', { quorum: 2 })]);
    const C = { id: 'carol', role: 'approver' };
    const D = { id: 'dave', role: 'approver' };
    const dave = actingAs('dave', 'approver');
    const edit = { args: { amount: 120 } };
    const shownAfterEdit = { tool: 'process_refund', args: { amount: 120 } };
    const editedHash = sha256(shownAfterEdit);
    const afterEdit = quorum2.and(recorded('r1', B, 'edit', { payload: edit }));

    it('what is shown after an edit: the edited payload, with its own hash', () => {
      const request = requestIn(afterEdit.state);
      assert.deepStrictEqual(shownPayload(request), {
        payload: shownAfterEdit,
        payloadHash: editedHash,
        editedBy: B,
      });
      assert.deepStrictEqual(shownPayload(requestIn(quorum2.state)), {
        payload: { tool: 'process_refund', args: { amount: 150 } },
        payloadHash: HASH,
        editedBy: null,
      });
    });

    it('quorum 2, the first approver edits the amount: an approval carrying the old hash is refused', () => {
      afterEdit
        .whenCommand(decideAs(carol, { decision: 'approve', payloadHash: HASH }))
        .thenThrows('REQUEST.STALE_PAYLOAD', 'conflict');
      afterEdit
        .whenCommand(decideAs(carol, { decision: 'approve' }))
        .thenThrows('REQUEST.PAYLOAD_HASH_REQUIRED', 'conflict');
      afterEdit
        .whenCommand(decideAs(carol, { decision: 'approve', payloadHash: 'b'.repeat(64) }))
        .thenThrows('REQUEST.STALE_PAYLOAD');
      // a rejection refuses the action whatever its version: it needs no hash, but a wrong one is still refused
      afterEdit
        .whenCommand(decideAs(carol, { decision: 'reject', comment: 'no' }))
        .thenMatch(({ result }) => assert.equal(result.status, 'resolved'));
      afterEdit
        .whenCommand(decideAs(carol, { decision: 'reject', payloadHash: HASH }))
        .thenThrows('REQUEST.STALE_PAYLOAD');
    });

    it('an unknown hash is refused even on a request nobody edited', () => {
      quorum2
        .whenCommand(decideAs(bob, { decision: 'approve', payloadHash: 'c'.repeat(64) }))
        .thenThrows('REQUEST.STALE_PAYLOAD', 'conflict');
    });

    it('an approval counts for the version it approved: an edit after it needs two approvals of the new version', () => {
      // bob approves 150, carol then edits to 120: bob's approval was for 150, so 120 has 1 vote of 2.
      const approved = quorum2.and(recorded('r1', B, 'approve'));
      const edited = approved
        .whenCommand(decideAs(carol, { decision: 'edit', payload: edit, payloadHash: HASH }))
        .then({
          events: [recorded('r1', C, 'edit', { payload: edit })],
          result: { status: 'recorded', request: requestIn(approved.state), votes: 1, quorum: 2 },
        });
      const g = approved.and(...edited.events);
      // bob's earlier approval is superseded: he may approve the new version; that settles it.
      g.whenCommand(decideAs(bob, { decision: 'approve', payloadHash: editedHash })).then({
        events: [
          recorded('r1', B, 'approve', { payloadHash: editedHash }),
          resolved('r1', B, 'edit', [C, B], { payload: edit }),
        ],
        result: { status: 'resolved', request: requestIn(g.state) },
      });
      // bob re-sending his first approval (the old hash, or none) is a repeat: nothing appended
      g.whenCommand(decideAs(bob, { decision: 'approve', payloadHash: HASH })).then({
        events: [],
        result: { status: 'unchanged', request: requestIn(g.state) },
      });
      g.whenCommand(decideAs(bob, { decision: 'approve' })).then({
        events: [],
        result: { status: 'unchanged', request: requestIn(g.state) },
      });
      // another approver of the new version settles it too
      g.whenCommand(decideAs(dave, { decision: 'approve', payloadHash: editedHash })).then({
        events: [
          recorded('r1', D, 'approve', { payloadHash: editedHash }),
          resolved('r1', D, 'edit', [C, D], { payload: edit }),
        ],
        result: { status: 'resolved', request: requestIn(g.state) },
      });
    });

    it('the same edit again is a repeat; a second, different edit restarts the count', () => {
      afterEdit.whenCommand(decideAs(bob, { decision: 'edit', payload: edit })).then({
        events: [],
        result: { status: 'unchanged', request: requestIn(afterEdit.state) },
      });
      const other = { args: { amount: 110 } };
      afterEdit
        .whenCommand(decideAs(carol, { decision: 'edit', payload: other, payloadHash: editedHash }))
        .then({
          events: [recorded('r1', C, 'edit', { payload: other, payloadHash: editedHash })],
          result: { status: 'recorded', request: requestIn(afterEdit.state), votes: 1, quorum: 2 },
        });
    });
  });

  describe('only a human decides', () => {
    const agentToken = { ...actingAs('refund-agent', 'approver'), kind: 'agent' as const };
    const serviceToken = { ...actingAs('ci-bot', 'admin'), kind: 'service' as const };

    it('an agent or service identity is refused, whatever its roles, and nothing is appended', () => {
      approval
        .whenCommand(decideAs(agentToken, { decision: 'approve', payloadHash: HASH }))
        .thenThrows('AUTH.NOT_A_HUMAN', 'forbidden');
      approval.whenCommand(decideAs(serviceToken, { decision: 'reject' })).thenThrows('AUTH.NOT_A_HUMAN');
      approval
        .whenCommand((state) => ({ events: [], result: claimRequest(state, 'r1', agentToken) }))
        .thenThrows('AUTH.NOT_A_HUMAN');
      approval
        .whenCommand((state) => ({ events: postMessage(state, serviceToken, 'approve it'), result: null }))
        .thenThrows('AUTH.NOT_A_HUMAN');
    });
  });

  it('the same decision twice (quorum 1, already resolved) is idempotent', () => {
    const g = approval.and(...resolve('r1', 'approve', B, { payloadHash: HASH }));
    g.whenCommand(decideAs(bob, { decision: 'approve' })).then({
      events: [],
      result: { status: 'unchanged', request: requestIn(g.state) },
    });
  });

  describe('closed requests and ended runs', () => {
    it('a resolved request refuses another human', () => {
      approval
        .and(...resolve('r1', 'approve', B))
        .whenCommand(decideAs(carol, { decision: 'approve' }))
        .thenThrows('REQUEST.CLOSED', 'conflict');
    });
    it('a resolved request refuses a different decision by the same human', () => {
      approval
        .and(...resolve('r1', 'approve', B))
        .whenCommand(decideAs(bob, { decision: 'reject' }))
        .thenThrows('REQUEST.CLOSED');
    });
    it('an expired request is refused', () => {
      approval
        .and(expired('r1', 'reject'))
        .whenCommand(decideAs(bob, { decision: 'approve' }))
        .thenThrows('REQUEST.EXPIRED', 'conflict');
    });
    it('a request past its deadline is refused even before the expiry is recorded', () => {
      const g = given(refundDesk, [
        opened('r1', { deadline: '2026-01-01T01:00:00.000Z', onTimeout: { action: 'reject' } }),
      ]);
      g.whenCommand(
        decideAs(bob, { decision: 'approve' }, 'r1', new Date('2026-01-01T01:00:00.000Z')),
      ).thenThrows('REQUEST.EXPIRED');
      g.whenCommand(
        decideAs(bob, { decision: 'approve' }, 'r1', new Date('2026-01-01T00:59:59.999Z')),
      ).thenMatch(({ result }) => assert.equal(result.status, 'resolved'));
    });
    it('an ended run refuses decisions', () => {
      approval
        .and({ type: 'run.cancelled', actor: humanActor('alice'), data: {} })
        .whenCommand(decideAs(bob, { decision: 'approve' }))
        .thenThrows('RUN.ENDED', 'conflict');
    });
    it('an unknown request is not found', () => {
      approval
        .whenCommand(decideAs(bob, { decision: 'approve' }, 'nope'))
        .thenThrows('REQUEST.NOT_FOUND', 'not_found');
    });
  });

  describe('what a decision must carry', () => {
    it('a decision the kind does not allow is refused', () => {
      const error = approval
        .whenCommand(decideAs(bob, { decision: 'feedback', comment: 'x' }))
        .thenThrows('REQUEST.DECISION_NOT_ALLOWED', 'validation');
      assert.equal(error.field, 'decision');
      approval.whenCommand(decideAs(bob, { decision: 'confirm' })).thenThrows('REQUEST.DECISION_NOT_ALLOWED');
    });

    it('feedback, answer and handback need a comment', () => {
      const review = given(refundDesk, [
        opened('r1', {
          kind: 'review',
          subject: { type: 'stage', index: 0 },
          decisions: ['approve', 'feedback', 'edit', 'reject'],
        }),
      ]);
      review
        .whenCommand(decideAs(bob, { decision: 'feedback' }))
        .thenThrows('REQUEST.COMMENT_REQUIRED', 'validation');
      review
        .whenCommand(decideAs(bob, { decision: 'feedback', comment: '   ' }))
        .thenThrows('REQUEST.COMMENT_REQUIRED');
      const escalation = given(refundDesk, [
        opened('r1', { kind: 'escalation', decisions: ['approve', 'reject', 'answer', 'handback', 'close'] }),
      ]);
      escalation.whenCommand(decideAs(bob, { decision: 'answer' })).thenThrows('REQUEST.COMMENT_REQUIRED');
      escalation
        .whenCommand(decideAs(bob, { decision: 'handback', comment: '' }))
        .thenThrows('REQUEST.COMMENT_REQUIRED');
      review.whenCommand(decideAs(bob, { decision: 'feedback', comment: 'Shorter.' })).then({
        events: [
          recorded('r1', B, 'feedback', { comment: 'Shorter.' }),
          resolved('r1', B, 'feedback', [B], { comment: 'Shorter.' }),
        ],
        result: { status: 'resolved', request: requestIn(review.state) },
      });
    });

    it('an edit needs the edited payload, which is validated', () => {
      approval
        .whenCommand(decideAs(bob, { decision: 'edit' }))
        .thenThrows('REQUEST.PAYLOAD_REQUIRED', 'validation');
      const seen: unknown[] = [];
      const strict = (request: HumanRequestState, payload: unknown): void => {
        seen.push([request.requestId, payload]);
        if ((payload as { args?: { amount?: number } }).args?.amount === undefined)
          throw new ValidationError('TOOL.INVALID_ARGS', 'amount is required', 'payload.args.amount');
      };
      approval
        .whenCommand((s) =>
          decideOnRequest(s, 'r1', bob, { decision: 'edit', payload: { args: {} } }, T0, strict),
        )
        .thenThrows('TOOL.INVALID_ARGS');
      const payload = { tool: 'process_refund', args: { amount: 90 } };
      approval
        .whenCommand((s) => decideOnRequest(s, 'r1', bob, { decision: 'edit', payload }, T0, strict))
        .then({
          events: [recorded('r1', B, 'edit', { payload }), resolved('r1', B, 'edit', [B], { payload })],
          result: { status: 'resolved', request: requestIn(approval.state) },
        });
      assert.deepStrictEqual(seen, [
        ['r1', { args: {} }],
        ['r1', payload],
      ]);
    });

    it('a stale payload hash is refused; the current one is accepted', () => {
      approval
        .whenCommand(decideAs(bob, { decision: 'approve', payloadHash: 'b'.repeat(64) }))
        .thenThrows('REQUEST.STALE_PAYLOAD', 'conflict');
      approval
        .whenCommand(decideAs(bob, { decision: 'approve', payloadHash: HASH }))
        .thenMatch(({ result }) => assert.equal(result.status, 'resolved'));
    });
  });

  describe('claimed escalations', () => {
    const escalation = given(refundDesk, [
      opened('r1', {
        kind: 'escalation',
        subject: { type: 'escalation' },
        decisions: ['approve', 'reject', 'answer', 'handback', 'close'],
      }),
      { type: 'human-request.claimed', actor: humanActor('bob'), data: { requestId: 'r1', by: B } },
    ]);

    it('another approver may not decide a claimed escalation', () => {
      escalation
        .whenCommand(decideAs(carol, { decision: 'answer', comment: 'hi' }))
        .thenThrows('REQUEST.CLAIMED_BY_OTHER', 'conflict');
    });
    it('the claimer and an admin may', () => {
      escalation
        .whenCommand(decideAs(bob, { decision: 'answer', comment: 'hi' }))
        .thenMatch(({ result }) => assert.equal(result.status, 'resolved'));
      escalation
        .whenCommand(decideAs(root, { decision: 'close', comment: 'done' }))
        .thenMatch(({ result }) => assert.equal(result.status, 'resolved'));
    });
    it('a claim only matters on escalations', () => {
      approval
        .and({ type: 'human-request.claimed', actor: humanActor('bob'), data: { requestId: 'r1', by: B } })
        .whenCommand(decideAs(carol, { decision: 'approve' }))
        .thenMatch(({ result }) => assert.equal(result.status, 'resolved'));
    });
  });
});

describe('claimRequest', () => {
  const g = given(refundDesk, [
    opened('r1', { kind: 'escalation', subject: { type: 'escalation' }, decisions: ['answer', 'close'] }),
  ]);
  const B = { id: 'bob', role: 'approver' };

  it('an entitled human claims an open request', () => {
    g.whenCommand((s) => claimRequest(s, 'r1', bob)).then({
      events: [{ type: 'human-request.claimed', actor: humanActor('bob'), data: { requestId: 'r1', by: B } }],
      result: requestIn(g.state),
    });
  });
  it('claiming again is idempotent; someone else is refused', () => {
    const claimed = g.and({
      type: 'human-request.claimed',
      actor: humanActor('bob'),
      data: { requestId: 'r1', by: B },
    });
    claimed
      .whenCommand((s) => claimRequest(s, 'r1', bob))
      .then({ events: [], result: requestIn(claimed.state) });
    claimed.whenCommand((s) => claimRequest(s, 'r1', carol)).thenThrows('REQUEST.CLAIMED_BY_OTHER');
  });
  it('a closed request, an unknown request, or a human without the role is refused', () => {
    g.and(...resolve('r1', 'close', B, { comment: 'x' }))
      .whenCommand((s) => claimRequest(s, 'r1', bob))
      .thenThrows('REQUEST.CLOSED');
    g.whenCommand((s) => claimRequest(s, 'r2', bob)).thenThrows('REQUEST.NOT_FOUND');
    g.whenCommand((s) => claimRequest(s, 'r1', mallory)).thenThrows('REQUEST.FORBIDDEN');
  });
});

describe('expireRequest', () => {
  const deadline = '2026-01-01T01:00:00.000Z';
  const at = (iso: string) => new Date(iso);

  it('does nothing before the deadline', () => {
    given(refundDesk, [opened('r1', { deadline, onTimeout: { action: 'escalate', escalateTo: 'admin' } })])
      .whenCommand((s) => expireRequest(s, 'r1', at('2026-01-01T00:59:59.999Z')))
      .then([]);
  });
  it('at the deadline, closes the request with its timeout action', () => {
    given(refundDesk, [opened('r1', { deadline, onTimeout: { action: 'escalate', escalateTo: 'admin' } })])
      .whenCommand((s) => expireRequest(s, 'r1', at(deadline)))
      .then([
        {
          type: 'human-request.expired',
          actor: SYSTEM,
          data: { requestId: 'r1', action: 'escalate', escalateTo: 'admin' },
        },
      ]);
    given(refundDesk, [opened('r1', { deadline, onTimeout: { action: 'continue' } })])
      .whenCommand((s) => expireRequest(s, 'r1', at('2026-01-02T00:00:00.000Z')))
      .then([
        {
          type: 'human-request.expired',
          actor: SYSTEM,
          data: { requestId: 'r1', action: 'continue', escalateTo: undefined },
        },
      ]);
  });
  it('without a timeout policy, an expiry rejects', () => {
    given(refundDesk, [opened('r1', { deadline })])
      .whenCommand((s) => expireRequest(s, 'r1', at(deadline)))
      .then([
        {
          type: 'human-request.expired',
          actor: SYSTEM,
          data: { requestId: 'r1', action: 'reject', escalateTo: undefined },
        },
      ]);
  });
  it('a request without a deadline, a closed or unknown request, or an ended run: nothing', () => {
    const late = at('2027-01-01T00:00:00.000Z');
    given(refundDesk, [opened('r1')])
      .whenCommand((s) => expireRequest(s, 'r1', late))
      .then([]);
    given(refundDesk, [
      opened('r1', { deadline }),
      ...resolve('r1', 'approve', { id: 'bob', role: 'approver' }),
    ])
      .whenCommand((s) => expireRequest(s, 'r1', late))
      .then([]);
    given(refundDesk, [opened('r1', { deadline })])
      .whenCommand((s) => expireRequest(s, 'r9', late))
      .then([]);
    given(refundDesk, [opened('r1', { deadline }), { type: 'run.cancelled', actor: SYSTEM, data: {} }])
      .whenCommand((s) => expireRequest(s, 'r1', late))
      .then([]);
  });
});

describe('postMessage', () => {
  const debate = loadWorkflow('debate');
  const floor = opened('f1', {
    kind: 'input',
    subject: { type: 'floor', turn: 3 },
    decisions: ['answer', 'skip'],
    roles: ['participant'],
    payload: { topic: 't' },
  });
  const dave = actingAs('dave', 'participant');
  const D = { id: 'dave', role: 'participant' };

  it('with the floor open to them, the message answers the floor request', () => {
    given(debate, [floor])
      .whenCommand((s) => postMessage(s, dave, 'I disagree.'))
      .then([
        {
          type: 'human-decision.recorded',
          actor: humanActor('dave'),
          data: { requestId: 'f1', decision: 'answer', by: D, comment: 'I disagree.', payloadHash: HASH },
        },
        {
          type: 'human-request.resolved',
          actor: humanActor('dave'),
          data: { requestId: 'f1', outcome: 'answer', comment: 'I disagree.', deciders: [D] },
        },
      ]);
  });
  it('without an open floor (or without its role), it is a plain message', () => {
    given(debate)
      .whenCommand((s) => postMessage(s, dave, 'Hello all'))
      .then([
        { type: 'human-message.posted', actor: humanActor('dave'), data: { by: D, text: 'Hello all' } },
      ]);
    given(debate, [{ ...floor, data: { ...(floor.data as object), roles: ['panel'] } }])
      .whenCommand((s) => postMessage(s, bob, 'Hello all'))
      .then([
        {
          type: 'human-message.posted',
          actor: humanActor('bob'),
          data: { by: { id: 'bob', role: 'approver' }, text: 'Hello all' },
        },
      ]);
  });
  it('an empty message or an ended run is refused', () => {
    given(debate)
      .whenCommand((s) => postMessage(s, dave, '  \n'))
      .thenThrows('MESSAGE.EMPTY', 'validation');
    given(debate, [{ type: 'run.completed', actor: SYSTEM, data: { output: 'x' } }])
      .whenCommand((s) => postMessage(s, dave, 'hi'))
      .thenThrows('RUN.ENDED');
  });
});

describe('overrideHandoff', () => {
  const triage = loadWorkflow('support-triage');
  const B = { id: 'bob', role: 'participant' };
  const performed: NewEvent = {
    type: 'handoff.performed',
    actor: agent('triage'),
    data: { from: 'triage', to: 'billing', reason: 'invoice' },
  };
  const routeReview = opened('rr', {
    kind: 'review',
    subject: { type: 'route', handoff: 1 },
    decisions: ['approve', 'edit'],
    payload: { to: 'billing' },
  });

  it('re-routes to another agent, attributed with the role acted under', () => {
    given(triage, [performed])
      .whenCommand((s) => overrideHandoff(s, actingAs('bob', 'participant'), 'technical', 'a crash'))
      .then([
        {
          type: 'handoff.overridden',
          actor: { ...humanActor('bob'), role: 'participant' },
          data: { by: B, to: 'technical', reason: 'a crash' },
        },
      ]);
  });
  it("settles an open routing review with the re-router's recorded decision (an edit to the new agent)", () => {
    const A = { id: 'bob', role: 'approver' };
    const actor = { ...humanActor('bob'), role: 'approver' };
    given(triage, [performed, routeReview])
      .whenCommand((s) => overrideHandoff(s, bob, 'technical', 'a crash'))
      .then([
        { type: 'handoff.overridden', actor, data: { by: A, to: 'technical', reason: 'a crash' } },
        {
          type: 'human-decision.recorded',
          actor,
          data: {
            requestId: 'rr',
            decision: 'edit',
            by: A,
            comment: 'a crash',
            payload: { to: 'technical' },
            payloadHash: HASH,
          },
        },
        {
          type: 'human-request.resolved',
          actor,
          data: {
            requestId: 'rr',
            outcome: 'edit',
            payload: { to: 'technical' },
            comment: 'a crash',
            deciders: [A],
          },
        },
      ]);
  });
  it("is for the routing review's roles (else `permissions.override`, else participants): a 403 appends nothing", () => {
    given(triage, [performed, routeReview])
      .whenCommand((s) => overrideHandoff(s, actingAs('pat', 'participant'), 'technical', 'a crash'))
      .thenThrows('RUN.FORBIDDEN', 'forbidden');
    given(triage, [performed])
      .whenCommand((s) => overrideHandoff(s, actingAs('vic', 'viewer'), 'technical', 'a crash'))
      .thenThrows('RUN.FORBIDDEN', 'forbidden');
    const managersOnly = { ...triage, permissions: { override: ['manager'] } };
    given(managersOnly, [performed])
      .whenCommand((s) => overrideHandoff(s, bob, 'technical', 'a crash'))
      .thenThrows('RUN.FORBIDDEN', 'forbidden');
    given(managersOnly, [performed])
      .whenCommand((s) => overrideHandoff(s, actingAs('mia', 'manager'), 'technical', 'a crash'))
      .then([
        {
          type: 'handoff.overridden',
          actor: { ...humanActor('mia'), role: 'manager' },
          data: { by: { id: 'mia', role: 'manager' }, to: 'technical', reason: 'a crash' },
        },
      ]);
  });
  it('refuses an unknown agent, the agent that holds it, no reason, a run of another pattern, an ended run', () => {
    given(triage, [performed])
      .whenCommand((s) => overrideHandoff(s, bob, 'sales', 'x'))
      .thenThrows('HANDOFF.UNKNOWN_AGENT', 'validation');
    given(triage, [performed])
      .whenCommand((s) => overrideHandoff(s, bob, 'billing', 'x'))
      .thenThrows('HANDOFF.ALREADY_THERE', 'conflict');
    given(triage)
      .whenCommand((s) => overrideHandoff(s, bob, 'triage', 'x'))
      .thenThrows('HANDOFF.ALREADY_THERE');
    given(triage, [performed])
      .whenCommand((s) => overrideHandoff(s, bob, 'technical', ' '))
      .thenThrows('HANDOFF.REASON_REQUIRED');
    given(refundDesk)
      .whenCommand((s) => overrideHandoff(s, bob, 'technical', 'x'))
      .thenThrows('HANDOFF.NOT_A_HANDOFF_RUN', 'validation');
    given(triage, [{ type: 'run.failed', actor: SYSTEM, data: { code: 'X', message: 'x' } }])
      .whenCommand((s) => overrideHandoff(s, bob, 'technical', 'x'))
      .thenThrows('RUN.ENDED');
  });
});

describe('cancelRun', () => {
  const byBob = { ...humanActor('bob'), role: 'approver' };
  it('cancels a running or waiting run, once, closing its open requests in the same append', () => {
    given(refundDesk, [opened('r1')])
      .whenCommand((s) => cancelRun(s, bob, 'wrong order'))
      .then([
        { type: 'human-request.closed', actor: byBob, data: { requestId: 'r1', because: 'cancelled' } },
        { type: 'run.cancelled', actor: byBob, data: { reason: 'wrong order', by: byBob } },
      ]);
    given(refundDesk)
      .whenCommand((s) => cancelRun(s, bob))
      .then([{ type: 'run.cancelled', actor: byBob, data: { reason: 'cancelled by bob', by: byBob } }]);
    given(refundDesk, [{ type: 'run.cancelled', actor: SYSTEM, data: {} }])
      .whenCommand((s) => cancelRun(s, bob))
      .thenThrows('RUN.ENDED');
  });
  it('is for the requester and approvers by default, or `permissions.cancel`; a 403 appends nothing', () => {
    // alice started refundDesk runs in these fixtures
    const asRequester = { ...humanActor('alice'), role: 'requester' };
    given(refundDesk)
      .whenCommand((s) => cancelRun(s, actingAs('alice', 'participant'), 'mine'))
      .then([{ type: 'run.cancelled', actor: asRequester, data: { reason: 'mine', by: asRequester } }]);
    given(refundDesk)
      .whenCommand((s) => cancelRun(s, actingAs('pat', 'participant')))
      .thenThrows('RUN.FORBIDDEN', 'forbidden');
    const opsOnly = { ...refundDesk, permissions: { cancel: ['ops'] } };
    given(opsOnly)
      .whenCommand((s) => cancelRun(s, bob))
      .thenThrows('RUN.FORBIDDEN', 'forbidden');
  });
  it("records an agent's or a service's token as what it is", () => {
    const bot: Acting = { ...actingAs('refund-bot', 'approver'), kind: 'service' };
    given(refundDesk)
      .whenCommand((s) => cancelRun(s, bot))
      .then([
        {
          type: 'run.cancelled',
          actor: { kind: 'service', id: 'refund-bot', role: 'approver' },
          data: {
            reason: 'cancelled by refund-bot',
            by: { kind: 'service', id: 'refund-bot', role: 'approver' },
          },
        },
      ]);
  });
});
