import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ParleyProcess, REPO_ROOT, type TestUser } from '@parley/testing';
import { waitForRequest, waitForStatus } from '../patterns/helpers';
import { Cli } from './cli-process';

/** The shipped workflows plus the confirmation fixture, in one folder for one server. */
function workflowsDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-cli-workflows-'));
  const shipped = join(REPO_ROOT, 'workflows');
  for (const f of readdirSync(shipped)) copyFileSync(join(shipped, f), join(dir, f));
  copyFileSync(
    join(REPO_ROOT, 'test', 'fixtures', 'workflows', 'refund-confirm.yaml'),
    join(dir, 'refund-confirm.yaml'),
  );
  return dir;
}

describe('the parley CLI: every decision kind, claim, cancel, fork, import, completion', () => {
  let server: ParleyProcess;
  let importer: ParleyProcess;
  let dir: string;
  let workflows: string;
  const as = (user: TestUser | null, on: ParleyProcess = server) => new Cli(on.url, user);

  /** `run start` through the CLI, then the first open request of the run that matches. */
  async function startAndWait(user: TestUser, workflow: string, input: string, kind: string) {
    const started = await as(user).run('run', 'start', workflow, input);
    assert.equal(started.code, 0, started.stderr);
    const runId = started.stdout.trim();
    const { request } = await waitForRequest(server.client(), runId, (r) => r.kind === kind);
    return { runId, request };
  }

  before(async () => {
    workflows = workflowsDir();
    dir = mkdtempSync(join(tmpdir(), 'parley-cli-decisions-'));
    server = await ParleyProcess.start({ env: { PARLEY_WORKFLOWS_DIR: workflows } });
    const key = (await server.client(null).get('/.well-known/parley-signing-key')).body.publicKey;
    importer = await ParleyProcess.start({ env: { PARLEY_TRUSTED_KEYS: key } });
  });
  after(async () => {
    await Promise.all([server?.dispose(), importer?.dispose()]);
    for (const d of [dir, workflows]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it('request show prints the payload and its hash; edit --payload approves the edited version', async () => {
    const { runId, request } = await startAndWait(
      'carol',
      'refund-desk',
      'Please refund $150 for order #E1',
      'approval',
    );
    const shown = await as('alice').run('request', 'show', request.id);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`payload hash: ${request.payloadHash}`));
    assert.match(shown.stdout, /decisions: +approve, reject, edit/);
    const json = JSON.parse((await as('alice').run('request', 'show', request.id, '--json')).stdout);
    assert.equal(json.payloadHash, request.payloadHash);

    // bad input is refused before anything is sent (exit 1), naming the flag
    const notJson = await as('alice').run('edit', request.id, '--payload', '{amount: 1');
    assert.equal(notJson.code, 1);
    assert.match(notJson.stderr, /--payload: not JSON/);
    const missing = await as('alice').run('edit', request.id);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /--payload: required/);
    // the server's own check of the edit (exit 2, its field)
    const negative = await as('alice').run(
      'edit',
      request.id,
      '--payload',
      JSON.stringify({ args: { order_id: 'E1', amount: -5, reason: 'x' } }),
    );
    assert.equal(negative.code, 2, negative.stderr);
    // a stale hash is refused: the decision is about what was shown
    const stale = await as('alice').run('approve', request.id, '--hash', 'f'.repeat(64));
    assert.equal(stale.code, 2);
    assert.match(stale.stderr, /REQUEST\.STALE_PAYLOAD|PAYLOAD/);

    const file = join(dir, 'edited.json');
    writeFileSync(file, JSON.stringify({ args: { order_id: 'E1', amount: 120, reason: 'partial refund' } }));
    const edited = await as('alice').run('edit', request.id, '--payload', `@${file}`, '-m', 'item kept');
    assert.equal(edited.code, 0, edited.stderr);
    assert.match(edited.stdout, /^edited .*: the request is resolved/);
    const done = await waitForStatus(server.client(), runId, 'completed');
    assert.equal(done.toolCalls[0].result.amount, 120, 'the edited amount was refunded');
  });

  it('an escalation: claim, another approver refused, answer needs a comment, close ends it', async () => {
    const { runId, request } = await startAndWait(
      'carol',
      'refund-desk',
      'My lawyer will contact you about order A125',
      'escalation',
    );
    const claimed = await as('alice').run('claim', request.id, '--json');
    assert.equal(claimed.code, 0, claimed.stderr);
    assert.deepEqual(JSON.parse(claimed.stdout), { status: 'claimed', requestId: request.id, by: 'alice' });
    const other = await as('bob').run('close', request.id, '-m', 'mine');
    assert.equal(other.code, 2);
    assert.match(other.stderr, /REQUEST\.CLAIMED_BY_OTHER, HTTP 409/);
    // handed back, bob may claim it; released again, alice takes it back
    assert.equal((await as('bob').run('release', request.id)).code, 2, 'only its claimer releases it');
    const released = await as('alice').run('release', request.id);
    assert.equal(released.code, 0, released.stderr);
    assert.equal((await as('bob').run('claim', request.id)).code, 0);
    assert.equal((await as('bob').run('release', request.id)).code, 0);
    assert.equal((await as('alice').run('claim', request.id)).code, 0);
    const noComment = await as('alice').run('answer', request.id);
    assert.equal(noComment.code, 1);
    assert.match(noComment.stderr, /--comment: required/);
    const closed = await as('alice').run('close', request.id, '-m', 'Handed to legal', '--json');
    assert.equal(closed.code, 0, closed.stderr);
    assert.equal(JSON.parse(closed.stdout).status, 'resolved');
    assert.equal((await waitForStatus(server.client(), runId, 'completed')).output, 'Handed to legal');
  });

  it('handback gives the agent guidance; answer answers an escalation', async () => {
    const first = await startAndWait(
      'carol',
      'refund-desk',
      'I want to speak to a manager about order A126',
      'escalation',
    );
    const handedBack = await as('alice').run('handback', first.request.id, '-m', 'Offer a callback');
    assert.equal(handedBack.code, 0, handedBack.stderr);
    assert.match(handedBack.stdout, /^handed back /);
    await waitForStatus(server.client(), first.runId, 'completed');

    const second = await startAndWait(
      'carol',
      'refund-desk',
      'Please refund $900 for order #A127',
      'escalation',
    );
    const answered = await as('alice').run('answer', second.request.id, '-m', 'Offer store credit');
    assert.equal(answered.code, 0, answered.stderr);
    await waitForStatus(server.client(), second.runId, 'completed');
  });

  it("confirm and decline are the requester's: another human is refused (exit 2)", async () => {
    const { runId, request } = await startAndWait(
      'carol',
      'refund-confirm',
      'Please refund $50 for order #C1',
      'confirmation',
    );
    const other = await as('alice').run('confirm', request.id);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /HTTP 403/);
    const declined = await as('carol').run('decline', request.id, '-m', 'changed my mind');
    assert.equal(declined.code, 0, declined.stderr);
    assert.match(declined.stdout, /^declined /);
    const done = await waitForStatus(server.client(), runId, 'completed');
    assert.equal(done.toolCalls[0].status, 'rejected');

    const again = await startAndWait(
      'carol',
      'refund-confirm',
      'Please refund $40 for order #C2',
      'confirmation',
    );
    const confirmed = await as('carol').run('confirm', again.request.id);
    assert.equal(confirmed.code, 0, confirmed.stderr);
    assert.equal(
      (await waitForStatus(server.client(), again.runId, 'completed')).toolCalls[0].status,
      'completed',
    );
  });

  it('feedback sends a review back; reject ends the stage', async () => {
    const { runId, request } = await startAndWait(
      'carol',
      'content-pipeline',
      'Write about event sourcing',
      'review',
    );
    const feedback = await as('alice').run('feedback', request.id, '-m', 'Add an example');
    assert.equal(feedback.code, 0, feedback.stderr);
    assert.match(feedback.stdout, /^sent feedback on /);
    const next = await waitForRequest(
      server.client(),
      runId,
      (r) => r.kind === 'review' && r.id !== request.id,
    );
    assert.ok(next.request.payload, 'a new draft is shown for review');
  });

  it('cancel stops a waiting run (twice: exit 2); fork starts a new run; runs --status filters', async () => {
    const { runId } = await startAndWait(
      'carol',
      'refund-desk',
      'Please refund $150 for order #F1',
      'approval',
    );
    const waiting = JSON.parse((await as('alice').run('runs', '--status', 'waiting', '--json')).stdout);
    assert.ok(waiting.runs.some((r: { runId: string }) => r.runId === runId));

    const noNote = await as('alice').run('fork', runId, '--at', '2');
    assert.equal(noNote.code, 1);
    assert.match(noNote.stderr, /--note: required/);
    const badAt = await as('alice').run('fork', runId, '--at', 'x', '--note', 'what if');
    assert.equal(badAt.code, 1);
    const byParticipant = await as('carol').run('fork', runId, '--at', '2', '--note', 'what if');
    assert.equal(byParticipant.code, 2, 'fork is for approvers');
    const forked = await as('alice').run('fork', runId, '--at', '2', '--note', 'what if');
    assert.equal(forked.code, 0, forked.stderr);
    const forkId = forked.stdout.trim();
    assert.notEqual(forkId, runId);
    const fork = (await server.client().get(`/api/runs/${forkId}/events`)).body.events[0];
    assert.equal(fork.data.forkOf.runId, runId);
    assert.equal(fork.data.forkOf.atSeq, 2);
    assert.equal(fork.data.forkOf.note, 'what if');

    const cancelled = await as('carol').run('cancel', runId, '--reason', 'customer withdrew');
    assert.equal(cancelled.code, 0, cancelled.stderr);
    assert.equal((await server.client().get(`/api/runs/${runId}`)).body.status, 'cancelled');
    const twice = await as('carol').run('cancel', runId);
    assert.equal(twice.code, 2);
    const unknown = await as('carol').run('cancel', '00000000-0000-4000-8000-000000000000');
    assert.equal(unknown.code, 5);
  });

  it('import streams an export into a server that trusts the key (admin); the same file again: exit 2', async () => {
    const { runId, request } = await startAndWait(
      'carol',
      'refund-desk',
      'Please refund $150 for order #I1',
      'approval',
    );
    assert.equal((await as('alice').run('approve', request.id)).code, 0);
    await waitForStatus(server.client(), runId, 'completed');
    const file = join(dir, 'run.ndjson');
    assert.equal((await as('victor').run('export', runId, '-o', file)).code, 0);

    const notAdmin = await as('alice', importer).run('import', file);
    assert.equal(notAdmin.code, 2);
    assert.match(notAdmin.stderr, /HTTP 403/);
    const imported = await as('admin', importer).run('import', file, '--note', 'moved here', '--json');
    assert.equal(imported.code, 0, imported.stderr);
    assert.equal(JSON.parse(imported.stdout).imported[0].runId, runId);
    assert.equal((await importer.client().get(`/api/runs/${runId}`)).body.status, 'completed');
    const again = await as('admin', importer).run('import', file);
    assert.equal(again.code, 2, again.stderr);
    const missing = await as('admin', importer).run('import', join(dir, 'nope.ndjson'));
    assert.equal(missing.code, 5);
  });

  it('completion bash completes commands, subcommands and flags in a real bash', async () => {
    const script = await as(null).run('completion', 'bash');
    assert.equal(script.code, 0, script.stderr);
    const file = join(dir, 'parley-completion.bash');
    writeFileSync(file, script.stdout);
    const complete = (line: string): string[] => {
      const words = line.split(' ');
      const probe = `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _parley_complete; printf '%s\\n' "\${COMPREPLY[@]}"`;
      const r = spawnSync('bash', ['-c', probe], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.split('\n').filter(Boolean).sort();
    };
    assert.deepEqual(complete('parley run s'), ['show', 'start']);
    assert.deepEqual(complete('parley ha'), ['handback', 'handoff']);
    assert.deepEqual(complete('parley edit abc --p'), ['--payload']);
    assert.deepEqual(complete('parley request show x --j'), ['--json']);
    const zsh = await as(null).run('completion', 'zsh');
    assert.match(zsh.stdout, /^autoload -U \+X bashcompinit && bashcompinit/);
    const fish = await as(null).run('completion', 'fish');
    assert.equal(fish.code, 1);
  });
});
