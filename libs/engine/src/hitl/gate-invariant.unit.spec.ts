import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkGateInvariant, runScenario } from '@parley/testing';

describe('the gate invariant (property, fast-check)', () => {
  it('no tool runs unless the policies, on its exact arguments, are satisfied by the log: 300 generated workflows, decisions, forks and restarts', () => {
    const { effects, runs } = checkGateInvariant(300);
    // the generator must exercise effects and forks, or the property proves nothing
    assert.ok(effects > 100, `only ${effects} effects ran`);
    assert.ok(runs > 300, `only ${runs} runs (forks included)`);
  });

  it('the oracle catches a bypass: a fork at the seq of a gated call, as before the gates were checked again', () => {
    // $600 over a $500 escalation: requested and gated in one append; the fork at the call's seq
    // has the call and no gate. The engine must open the gate in the fork, not run the call.
    const outcome = runScenario({
      approvals: [{ over: 100, roles: ['approver'], quorum: 1, fourEyes: true, kind: 'approval' }],
      escalations: [{ over: 500, roles: ['manager'] }],
      amounts: [600],
      actions: [
        { kind: 'decide', request: 0, who: 3, decision: 'reject', amount: 600, hash: 'shown' },
        { kind: 'fork', at: 0.5, who: 1 },
        { kind: 'decide', request: 0, who: 1, decision: 'approve', amount: 600, hash: 'shown' },
      ],
    });
    assert.deepEqual(outcome.effects, [], 'nothing runs: the manager rejected, and bob is no manager');
  });
});
