import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { canonicalJson } from '@parley/contracts';
import { ParleyProcess, waitFor, type HttpClient, type TestUser } from '@parley/testing';
import { Cli } from './cli-process';

async function until(api: HttpClient, runId: string, status: string): Promise<any> {
  return waitFor(`run ${runId} ${status}`, async () => {
    const run = (await api.get(`/api/runs/${runId}`)).body;
    return run.status === status ? run : undefined;
  });
}

describe('the parley CLI (bin/parley.js) against a real server', () => {
  let server: ParleyProcess;
  let dir: string;
  const as = (user: TestUser | null) => new Cli(server.url, user);

  before(async () => {
    server = await ParleyProcess.start();
    dir = mkdtempSync(join(tmpdir(), 'parley-cli-'));
  });
  after(async () => {
    await server?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('usage and reachability', () => {
    it('--help lists the commands and the exit codes (exit 0)', async () => {
      const r = await as(null).run('--help');
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Usage: parley <command>/m);
      for (const name of [
        'runs',
        'run start <workflow> <input...>',
        'run watch <runId>',
        'inbox',
        'approve <requestId>',
        'reject <requestId>',
        'handoff <runId> <agent>',
        'say <runId> <text...>',
        'replay <runId|file.ndjson>',
        'verify [runId|file.ndjson]',
        'export <runId>',
        'audit <runId>',
        'retry <runId>',
      ]) {
        assert.match(r.stdout, new RegExp(`^  ${name.replace(/[.|<>[\]]/g, '\\$&')}\\s`, 'm'), name);
      }
      assert.match(r.stdout, /^ {2}4 {2}verification failed/m);
      const approve = await as(null).run('approve', '--help');
      assert.equal(approve.code, 0);
      assert.match(approve.stdout, /^Usage: parley approve <requestId> \[flags\]$/m);
      assert.match(approve.stdout, /--comment <text>/);
    });

    it('an unknown command, an unknown flag, a missing argument: exit 1, nothing sent', async () => {
      const unknown = await as('admin').run('frobnicate');
      assert.equal(unknown.code, 1);
      assert.equal(unknown.stdout, '');
      assert.match(unknown.stderr, /unknown command "frobnicate"/);
      const flag = await as('admin').run('runs', '--colour');
      assert.equal(flag.code, 1);
      assert.match(flag.stderr, /Unknown option '--colour'/);
      const missing = await as('admin').run('approve');
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /^parley approve: missing <requestId>/);
      const status = await as('admin').run('runs', '--status', 'sleeping');
      assert.equal(status.code, 1);
      assert.match(status.stderr, /--status: /);
      const handoff = await as('carol').run('handoff', 'some-run', 'technical');
      assert.equal(handoff.code, 1);
      assert.match(handoff.stderr, /--reason: required/);
      const at = await as('admin').run('replay', 'some-run', '--at', 'three');
      assert.equal(at.code, 1);
      assert.match(at.stderr, /--at: expected a positive integer/);
    });

    it('an unreachable server: exit 3', async () => {
      const r = await as('admin').spawn(['runs'], { PARLEY_URL: 'http://127.0.0.1:1' }).done;
      assert.equal(r.code, 3);
      assert.match(r.stderr, /cannot reach the server at http:\/\/127\.0\.0\.1:1/);
      const watch = await as('admin').spawn(['run', 'watch', 'r1'], { PARLEY_URL: 'http://127.0.0.1:1' })
        .done;
      assert.equal(watch.code, 3, watch.stderr);
    });

    it('no token: exit 2 with the server refusal; an unknown run: exit 5', async () => {
      const r = await as(null).run('runs');
      assert.equal(r.code, 2);
      assert.match(r.stderr, /\(AUTH\.[A-Z_]+, HTTP 401\)/);
      const missing = await as('admin').run('run', 'show', 'no-such-run');
      assert.equal(missing.code, 5);
      assert.match(missing.stderr, /no run with id no-such-run \(RUN\.NOT_FOUND, HTTP 404\)/);
      const gone = await as('admin').run('verify', join(dir, 'nope.ndjson'));
      assert.equal(gone.code, 5);
      assert.match(gone.stderr, /no such file/);
    });
  });

  describe('a refund with four-eyes approval', () => {
    let runId: string;
    let requestId: string;

    it('run start prints the runId; runs lists it', async () => {
      const r = await as('carol').run('run', 'start', 'refund-desk', 'Please refund $120 for order #A123');
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^\S+\n$/);
      runId = r.stdout.trim();
      const run = await until(server.client('carol'), runId, 'waiting');
      assert.equal(run.input, 'Please refund $120 for order #A123');
      assert.equal(run.requestedBy, 'carol');
      requestId = run.pendingRequests[0].id;

      const list = await as('victor').run('runs', '--workflow', 'refund-desk');
      assert.equal(list.code, 0, list.stderr);
      const [header, ...rows] = list.stdout.trimEnd().split('\n');
      assert.match(header, /^RUN\s+WORKFLOW\s+STATUS\s+BY\s+OPEN\s+SEQ\s+UPDATED\s+WAITING-ON\s+TITLE$/);
      assert.ok(
        rows.some((row) =>
          new RegExp(
            `^${runId}\\s+refund-desk\\s+waiting\\s+carol\\s+1\\s+\\d+\\s+\\S+\\s+approval:\\S+\\s+Please refund \\$120 for order #A123$`,
          ).test(row),
        ),
        list.stdout,
      );
      assert.match(rows[rows.length - 1], /^\d+ of \d+$/, 'the count of the page and of all that match');
      const json = JSON.parse((await as('victor').run('runs', '--status', 'waiting', '--json')).stdout);
      assert.equal(typeof json.total, 'number');
      assert.ok(
        json.runs.some((r: { runId: string; status: string }) => r.runId === runId && r.status === 'waiting'),
      );
      const none = await as('victor').run('runs', '--workflow', 'debate');
      assert.equal(none.code, 0, none.stderr);
      assert.equal(none.stdout, 'no runs\n');

      const again = await as('carol').run(
        'run',
        'start',
        'refund-desk',
        'Please refund $120 for order #A123',
        '--idempotency-key',
        'k-1',
        '--json',
      );
      const first = JSON.parse(again.stdout);
      assert.equal(first.created, true);
      const repeat = JSON.parse(
        (
          await as('carol').run(
            'run',
            'start',
            'refund-desk',
            'Please refund $120 for order #A123',
            '--idempotency-key',
            'k-1',
            '--json',
          )
        ).stdout,
      );
      assert.deepEqual(repeat, { runId: first.runId, created: false });
    });

    it('inbox shows the approval to alice (an approver), not to victor (a viewer)', async () => {
      const request = (await server.client('alice').get(`/api/requests/${requestId}`)).body;
      const r = await as('alice').run('inbox');
      assert.equal(r.code, 0, r.stderr);
      const [header, ...rows] = r.stdout.trimEnd().split('\n');
      assert.match(header, /^ID\s+KIND\s+RUN\s+TITLE\s+DEADLINE$/);
      const row = rows.find((line) => line.startsWith(requestId));
      assert.ok(row, r.stdout);
      assert.match(
        row!,
        new RegExp(
          `^${requestId}\\s+approval\\s+${runId}\\s+${request.title.replace(/[$.()[\]]/g, '\\$&')}\\s+${request.deadline}$`,
        ),
      );
      const viewer = await as('victor').run('inbox');
      assert.equal(viewer.code, 0, viewer.stderr);
      assert.equal(viewer.stdout, 'inbox: nothing open for you\n');
    });

    it('a viewer, then the requester, may not approve: exit 2 with the server message', async () => {
      const viewer = await as('victor').run('approve', requestId);
      assert.equal(viewer.code, 2);
      assert.equal(viewer.stdout, '');
      assert.match(
        viewer.stderr,
        /victor may not answer this request: it is for approver \(REQUEST\.FORBIDDEN, HTTP 403\)/,
      );
      const requester = await as('carol').run('approve', requestId);
      assert.equal(requester.code, 2);
      assert.match(requester.stderr, /\(REQUEST\.[A-Z_]+, HTTP 403\)/);
    });

    it('approve --comment resolves it and the run completes; reject afterwards: exit 2, REQUEST.CLOSED', async () => {
      const r = await as('alice').run('approve', requestId, '--comment', 'ok');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `approved ${requestId}: the request is resolved\n`);
      const done = await until(server.client(), runId, 'completed');
      assert.match(done.output, /120/);
      const { events } = (await server.client().get(`/api/runs/${runId}/events`)).body;
      const decision = events.find((e: { type: string }) => e.type === 'human-decision.recorded');
      assert.deepEqual(
        { ...decision.data, payloadHash: undefined },
        {
          requestId,
          decision: 'approve',
          by: { id: 'alice', role: 'approver' },
          comment: 'ok',
          payloadHash: undefined,
        },
      );

      const late = await as('bob').run('reject', requestId, '--comment', 'too late');
      assert.equal(late.code, 2);
      assert.equal(late.stdout, '');
      assert.equal(
        late.stderr,
        `parley reject: request ${requestId} is already resolved (approve) (REQUEST.CLOSED, HTTP 409)\n`,
      );
      const unknown = await as('bob').run('approve', 'no-such-request');
      assert.equal(unknown.code, 5);

      // the audit trail: who started the run, who decided the approval, on what
      const audit = await as('victor').run('audit', runId);
      assert.equal(audit.code, 0, audit.stderr);
      assert.match(audit.stdout, /^ {2}#\s+1 {2}\S+ {2}human:carol started the run$/m);
      assert.match(
        audit.stdout,
        new RegExp(
          `^ {2}${requestId} {2}approval for approver: Approve process_refund, opened at #\\d+, resolved \\(approve\\) at #\\d+$`,
          'm',
        ),
      );
      assert.match(
        audit.stdout,
        /^ {4}# *\d+ {2}\S+ {2}alice \(approver\) approve: "ok" \[shown [0-9a-f]{12}\]$/m,
      );
      const asJson = await as('victor').run('audit', runId, '--json');
      assert.deepEqual(
        JSON.parse(asJson.stdout),
        (await server.client().get(`/api/runs/${runId}/audit`)).body,
      );
    });

    it('export, then verify the file offline; a one-byte change is found at its seq (exit 4)', async () => {
      const file = join(dir, 'refund.ndjson');
      const r = await as('victor').run('export', runId, '-o', file);
      assert.equal(r.code, 0, r.stderr);
      const text = readFileSync(file, 'utf8');
      const lines = text.trimEnd().split('\n');
      assert.equal(JSON.parse(lines[0]).kind, 'parley.export');
      assert.equal(r.stderr, `wrote ${file}: ${lines.length - 1} events of run ${runId}\n`);
      const online = (await server.client().get(`/api/runs/${runId}/verify`)).body;
      assert.equal(online.ok, true);
      assert.equal(online.events, lines.length - 1);

      const stdoutExport = await as('victor').run('export', runId);
      assert.equal(stdoutExport.code, 0);
      const [manifest, ...events] = stdoutExport.stdout.split('\n');
      assert.equal(JSON.parse(manifest).runs[0].head, JSON.parse(lines[0]).runs[0].head);
      assert.equal(
        events.join('\n'),
        text.slice(text.indexOf('\n') + 1),
        'without -o the NDJSON goes to stdout',
      );

      const ok = await as(null).run('verify', file);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(
        ok.stdout,
        new RegExp(
          `^ok: ${online.events} events, head ${online.head}\\nsignature: signed by key [0-9a-f]{16} \\(not checked against a key: use --key\\)\\n$`,
        ),
      );
      const viaServer = await as('victor').run('verify', runId);
      assert.equal(viaServer.code, 0);
      assert.equal(viaServer.stdout, ok.stdout.split('\n')[0] + '\n');

      // One byte changed in the event at seq 3 (the agent's reply): still valid JSON, no longer its hash.
      const seq3 = lines.findIndex((l) => JSON.parse(l).seq === 3);
      assert.ok(lines[seq3].includes('"agent":"refund-agent"'));
      const tampered = [...lines];
      tampered[seq3] = lines[seq3].replace('"agent":"refund-agent"', '"agent":"refund-agenT"');
      const bad = join(dir, 'tampered.ndjson');
      writeFileSync(bad, `${tampered.join('\n')}\n`);
      const broken = await as(null).run('verify', bad);
      assert.equal(broken.code, 4);
      assert.equal(
        broken.stdout.split('\n')[0],
        `broken: run ${runId} at seq 3 (edited): event at seq 3 does not match its hash: it was edited`,
      );
      const json = JSON.parse((await as(null).run('verify', bad, '--json')).stdout);
      assert.deepEqual(
        { ok: json.ok, seq: json.runs[0].seq, reason: json.runs[0].reason },
        { ok: false, seq: 3, reason: 'edited' },
      );
    });

    it('replay a file offline at a seq; the same state as the server (replay <runId> online)', async () => {
      const file = join(dir, 'refund.ndjson');
      const r = await as(null).run('replay', file, '--at', '3');
      assert.equal(r.code, 0, r.stderr);
      const state3 = (await server.client().get(`/api/runs/${runId}/state?at=3`)).body;
      const lines = r.stdout.split('\n');
      assert.equal(lines[0], `run ${runId} (refund-desk) running at seq 3`);
      assert.equal(lines[2], 'transcript:');
      assert.equal(lines[3], '#  1  carol: Please refund $120 for order #A123');
      assert.equal(state3.state.transcript.length, lines.filter((l) => l.startsWith('#')).length);
      assert.ok(r.stdout.includes('\npending requests: none\n'), r.stdout);
      const offlineJson = await as(null).run('replay', file, '--at', '3', '--json');
      assert.equal(
        offlineJson.stdout,
        `${canonicalJson(state3)}\n`,
        'offline replay = GET /state?at=3, byte for byte',
      );

      // At the seq where the approval opened, the pending request shows.
      const opened = state3.state.seq;
      const { events } = (await server.client().get(`/api/runs/${runId}/events`)).body;
      const openedSeq = events.find((e: { type: string }) => e.type === 'human-request.opened').seq;
      assert.ok(openedSeq > opened);
      const waiting = await as(null).run('replay', file, '--at', String(openedSeq));
      assert.match(
        waiting.stdout,
        new RegExp(`^run ${runId} \\(refund-desk\\) waiting at seq ${openedSeq}$`, 'm'),
      );
      assert.match(
        waiting.stdout,
        new RegExp(`^pending requests:\\n  ${requestId}  approval  .+\\(for approver, deadline `, 'm'),
      );

      const online = await as('victor').run('replay', runId, '--at', '2');
      assert.equal(online.code, 0, online.stderr);
      assert.equal(online.stdout.split('\n')[0], `run ${runId} (refund-desk) running at seq 2`);
      assert.match(online.stdout, /^# {2}1 {2}carol: Please refund \$120 for order #A123$/m);
      const onlineJson = await as('victor').run('replay', runId, '--at', '2', '--json');
      assert.equal(
        onlineJson.stdout,
        `${canonicalJson((await server.client().get(`/api/runs/${runId}/state?at=2`)).body)}\n`,
      );

      const beyond = await as(null).run('replay', file, '--at', '999');
      assert.equal(beyond.code, 1);
      assert.match(beyond.stderr, /--at: the run has \d+ events/);
      const beyondOnline = await as('victor').run('replay', runId, '--at', '999');
      assert.equal(beyondOnline.code, 2);
      assert.match(beyondOnline.stderr, /REPLAY\.BEYOND_HEAD, HTTP 400/);
    });
  });

  it('run watch prints the live transcript and exits 0 after run.completed', async () => {
    const carol = server.client('carol');
    const { runId } = (
      await carol.post('/api/runs', { workflow: 'refund-desk', input: 'Please refund $150 for order #W7' })
    ).body;
    const waiting = await until(carol, runId, 'waiting');
    const requestId = waiting.pendingRequests[0].id;

    const watch = as('victor').spawn(['run', 'watch', runId]);
    await waitFor(
      'the watch to reach the pending approval',
      () => watch.out.stdout.includes('status: waiting'),
      { timeoutMs: 15_000 },
    );
    assert.equal(watch.child.exitCode, null, 'still watching while the run waits');
    const decided = await server
      .client('alice')
      .post(`/api/requests/${requestId}/decision`, { decision: 'approve', comment: 'fine' });
    assert.equal(decided.status, 200);
    const r = await watch.done;
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    const index = (pattern: RegExp): number => {
      const i = lines.findIndex((l) => pattern.test(l));
      assert.ok(i >= 0, `${pattern} in\n${r.stdout}`);
      return i;
    };
    const order = [
      index(/^#\s+1 {2}carol started refund-desk: Please refund \$150 for order #W7$/),
      index(/^#\s+\d+ {2}refund-agent requests process_refund \{"order_id":"W7","amount":150,/),
      index(new RegExp(`^#\\s+\\d+  \\? approval requested from approver: .+ \\[${requestId}, deadline `)),
      index(/^ {6}status: waiting$/),
      index(new RegExp(`^#\\s+\\d+  alice \\(approver\\) approved ${requestId}: "fine"$`)),
      index(new RegExp(`^#\\s+\\d+  request ${requestId} resolved: approve$`)),
      index(/^#\s+\d+ {2}tool process_refund → /),
      index(/^#\s+\d+ {2}run completed: /),
    ];
    assert.deepEqual(
      [...order].sort((a, b) => a - b),
      order,
      r.stdout,
    );
    assert.equal(lines[lines.length - 1], '      status: completed');
    // Each event once: the last seq printed is the run's head.
    const seqs = lines.filter((l) => l.startsWith('#')).map((l) => Number(/^#\s*(\d+)/.exec(l)![1]));
    assert.deepEqual(
      seqs,
      [...new Set(seqs)].sort((a, b) => a - b),
    );
    assert.equal(seqs[seqs.length - 1], (await carol.get(`/api/runs/${runId}`)).body.seq);

    // An ended run: the catch-up alone, then exit 0; --json prints the envelopes.
    const again = await as('victor').run('run', 'watch', runId, '--json');
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stderr, '');
    const envelopes = again.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      envelopes.map((e) => e.seq),
      Array.from({ length: seqs[seqs.length - 1] }, (_, i) => i + 1),
    );
    assert.equal(envelopes[envelopes.length - 1].type, 'run.completed');
    const unknown = await as('victor').run('run', 'watch', 'no-such-run');
    assert.equal(unknown.code, 5);
    assert.match(unknown.stderr, /RUN\.NOT_FOUND/);
  });

  it('run watch exits 6 when the run is cancelled', async () => {
    const carol = server.client('carol');
    const { runId } = (
      await carol.post('/api/runs', { workflow: 'refund-desk', input: 'Please refund $160 for order #C1' })
    ).body;
    await until(carol, runId, 'waiting');
    const watch = as('victor').spawn(['run', 'watch', runId]);
    await waitFor('the watch to catch up', () => watch.out.stdout.includes('status: waiting'), {
      timeoutMs: 15_000,
    });
    assert.equal(
      (await carol.post(`/api/runs/${runId}/cancel`, { reason: 'customer withdrew' })).status,
      200,
    );
    const r = await watch.done;
    assert.equal(r.code, 6, r.stderr);
    assert.match(
      r.stdout,
      /^#\s+\d+ {2}request \S+ closed: the run cancelled\n#\s+\d+ {2}run cancelled by carol \(requester\): customer withdrew\n {6}status: cancelled\n$/m,
    );
  });

  it('say speaks in a debate: it answers the floor', async () => {
    const carol = server.client('carol');
    const { runId } = (
      await carol.post('/api/runs', { workflow: 'debate', input: 'Remote work is better than office work' })
    ).body;
    await until(carol, runId, 'waiting');
    const viewer = await as('victor').run('say', runId, 'I', 'only', 'watch');
    assert.equal(viewer.code, 2);
    assert.match(viewer.stderr, /\(AUTH\.ROLE_REQUIRED, HTTP 403\)/);
    const r = await as('carol').run('say', runId, 'Commuting wastes two hours every day');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `said in ${runId} (seq 13)\n`);
    const done = await until(carol, runId, 'completed');
    assert.ok(
      done.transcript.some(
        (t: { role: string; speaker: string; content: string }) =>
          t.role === 'human' && t.speaker === 'carol' && t.content === 'Commuting wastes two hours every day',
      ),
    );
    const ended = await as('carol').run('say', runId, 'Wait!');
    assert.equal(ended.code, 2);
    assert.match(ended.stderr, /\(RUN\.ENDED, HTTP 409\)/);
  });

  it('handoff re-routes a support-triage run', async () => {
    const alice = server.client('alice');
    const { runId } = (
      await alice.post('/api/runs', {
        workflow: 'support-triage',
        input: 'I was charged twice on my last invoice',
      })
    ).body;
    await until(alice, runId, 'waiting');
    const unknown = await as('bob').run('handoff', runId, 'sales', '--reason', 'no');
    assert.equal(unknown.code, 2);
    assert.match(
      unknown.stderr,
      /"sales" is not an agent of support-triage .*\(HANDOFF\.UNKNOWN_AGENT, HTTP 400\)/,
    );
    const r = await as('bob').run(
      'handoff',
      runId,
      'technical',
      '--reason',
      'The double charge comes from a checkout bug',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `re-routed ${runId} to technical (seq 6)\n`);
    const done = await until(alice, runId, 'completed');
    assert.equal(done.currentAgent, 'technical');
    const show = await as('victor').run('run', 'show', runId);
    assert.match(
      show.stdout,
      /^#\s+6 {2}bob: re-routed to technical: The double charge comes from a checkout bug$/m,
    );
  });
});
