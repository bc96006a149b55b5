import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ParleyProcess, TEST_USERS, runInStatus, waitFor } from '@parley/testing';
import { connect, socketOf } from '../realtime/socket-client';

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[/;
const SECRETS = {
  PARLEY_METRICS_TOKEN: 'metrics-secret-value-0123456789',
  PARLEY_WEBHOOK_SECRET: 'webhook-hmac-secret-0123456789',
};

/** The server's output (stdout and stderr, both piped here), split in lines. */
const linesOf = (server: ParleyProcess): string[] =>
  server.output
    .join('')
    .split('\n')
    .filter((line) => line.length > 0);

describe('logs: JSON lines when stdout is not a terminal', () => {
  it('every line is a JSON object; lines about a run carry its runId; no token or secret is written', async () => {
    // PARLEY_LOG_FORMAT blank = unset: the server decides from its stdout, a pipe here
    const server = await ParleyProcess.start({ env: { ...SECRETS, PARLEY_LOG_FORMAT: '' } });
    let runId = '';
    try {
      const carol = server.client('carol');
      const alice = server.client('alice');
      const started = await carol.post('/api/runs', {
        workflow: 'refund-desk',
        input: 'Please refund $250 for order #B777, it never arrived',
      });
      runId = started.body.runId;
      const [request] = (await runInStatus(carol, runId, 'waiting')).pendingRequests;
      await alice.post(`/api/requests/${request.id}/decision`, { decision: 'approve' });
      await runInStatus(carol, runId, 'completed');
      // credentials where a careless logger would write them: a bad token, a token in the query,
      // a socket handshake with a token, a refused socket, the metrics token
      assert.equal(
        (await server.client(null).get('/api/runs', { authorization: 'Bearer not-a-valid-token-xyz' }))
          .status,
        401,
      );
      await carol.get(`/api/runs/${runId}?token=${TEST_USERS.carol.token}`);
      (await connect(server, 'alice')).close();
      const refused = socketOf(server, undefined, { auth: { token: 'forged-token-0123456789abcdef' } });
      await new Promise((resolve) => refused.once('connect_error', resolve));
      refused.close();
      await fetch(`${server.url}/metrics`, {
        headers: { authorization: `Bearer ${SECRETS.PARLEY_METRICS_TOKEN}` },
      });
      await waitFor('the request lines', () =>
        linesOf(server).some((line) => line.includes(`/api/runs/${runId}?token=`)),
      );
    } finally {
      await server.stop();
    }
    const lines = linesOf(server);
    assert.ok(lines.length > 20, `the server logged (${lines.length} lines)`);
    const parsed = lines.map((line, i) => {
      assert.doesNotMatch(line, ANSI, `no ANSI codes (line ${i + 1})`);
      let value: Record<string, unknown>;
      try {
        value = JSON.parse(line);
      } catch {
        throw new Error(`line ${i + 1} is not JSON: ${line}`);
      }
      assert.equal(typeof value, 'object');
      assert.ok(['info', 'warn', 'error', 'fatal'].includes(value.level as string), line);
      assert.ok(typeof value.time === 'string' && !Number.isNaN(Date.parse(value.time)), line);
      assert.equal(typeof value.msg, 'string', line);
      return value;
    });
    const all = lines.join('\n');
    for (const user of Object.values(TEST_USERS))
      assert.ok(!all.includes(user.token), `${user.id}'s token is not logged`);
    for (const [name, secret] of Object.entries(SECRETS))
      assert.ok(!all.includes(secret), `${name} is not logged`);
    assert.ok(!all.includes('not-a-valid-token-xyz') && !all.includes('forged-token-0123456789abcdef'));
    assert.ok(!/authorization/i.test(all.replace(/"msg":"[^"]*"/g, '')), 'no authorization header is logged');
    // what was logged about the run says which run: its request lines
    const aboutRun = parsed.filter((line) => JSON.stringify(line).includes(runId));
    assert.ok(aboutRun.length >= 2, 'lines about the run');
    for (const line of aboutRun) assert.equal(line.runId, runId, JSON.stringify(line));
    assert.ok(parsed.some((line) => /Parley listening on/.test(line.msg as string)));
    assert.ok(parsed.some((line) => (line.req as { url?: string })?.url?.includes('token=[redacted]')));
  });

  it('PARLEY_LOG_FORMAT=text writes readable lines without ANSI codes into a pipe', async () => {
    const server = await ParleyProcess.start({ env: { PARLEY_LOG_FORMAT: 'text' } });
    await server.stop();
    const lines = linesOf(server);
    assert.ok(lines.some((line) => /\[Parley\] Parley listening on/.test(line)));
    for (const line of lines) {
      assert.doesNotMatch(line, ANSI, line);
      assert.ok(!line.startsWith('{'), `a text line: ${line}`);
    }
  });
});
