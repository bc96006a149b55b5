import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { verifyExportText, type EventEnvelope } from '@parley/contracts';
import { ParleyProcess, newSigningKey, resealedExport } from '@parley/testing';
import { waitForRequest, waitForStatus } from '../patterns/helpers';

/**
 * An import is an append (issue "The log defends itself", finding 2): an export whose chain an
 * attacker recomputed with Parley's own library verifies offline, but an event in it that this server
 * would never have appended (a decision made by an agent, a type that does not exist) is refused,
 * naming the line; a body over the limit is refused with 413. Nothing is imported either way.
 */

/** A peer these servers trust (PARLEY_TRUSTED_KEYS): the append checks hold even against its exports. */
const peer = newSigningKey();

/** Re-seal a run's events under a new run id, as an attacker with Parley's library would; signed by the peer. */
const forge = (events: EventEnvelope[], runId: string, edit: (e: EventEnvelope) => EventEnvelope): string =>
  resealedExport(events, runId, peer.file, edit);

describe('import checks every event as an append would', () => {
  let server: ParleyProcess;
  let small: ParleyProcess;
  let events: EventEnvelope[];
  before(async () => {
    [server, small] = await Promise.all([
      ParleyProcess.start({ env: { PARLEY_TRUSTED_KEYS: peer.publicKey } }),
      ParleyProcess.start({ env: { PARLEY_IMPORT_MAX_BYTES: '4096', PARLEY_TRUSTED_KEYS: peer.publicKey } }),
    ]);
    const { body } = await server
      .client('carol')
      .post('/api/runs', { workflow: 'refund-desk', input: 'Please refund $150 for order #I1' });
    const { request } = await waitForRequest(server.client(), body.runId, (r) => r.kind === 'approval');
    await server.client('alice').post(`/api/requests/${request.id}/decision`, { decision: 'approve' });
    await waitForStatus(server.client(), body.runId, 'completed');
    events = (await server.client().get(`/api/runs/${body.runId}/events`)).body.events;
  });
  after(async () => Promise.all([server.dispose(), small.dispose()]));

  const importText = (api: ParleyProcess, text: string) =>
    api.client().post('/api/import', text, { 'content-type': 'application/x-ndjson' });

  it('a decision recorded by an agent, in a chain recomputed to verify, is refused naming its line', async () => {
    const decision = events.findIndex((e) => e.type === 'human-decision.recorded');
    const text = forge(events, 'forged-agent-decision', (e) =>
      e.type === 'human-decision.recorded' ? { ...e, actor: { kind: 'agent', id: 'refund-agent' } } : e,
    );
    assert.equal(verifyExportText(text).ok, true, 'the chain itself verifies offline');
    const refused = await importText(server, text);
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, 'IMPORT.INVALID_EVENT');
    assert.match(
      refused.body.error.message,
      new RegExp(`^line ${decision + 2}: an actor of kind "agent" may not produce "human-decision.recorded"`),
    );
    assert.equal(
      (await server.client().get('/api/runs/forged-agent-decision')).status,
      404,
      'nothing imported',
    );
  });

  it('an event type that does not exist is refused naming its line', async () => {
    const text = forge(events, 'forged-unknown-type', (e) =>
      e.seq === 3 ? { ...e, type: 'refund.teleported' } : e,
    );
    assert.equal(verifyExportText(text).ok, true);
    const refused = await importText(server, text);
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, 'IMPORT.INVALID_EVENT');
    assert.match(refused.body.error.message, /^line 4: unknown event type "refund\.teleported"/);
    assert.equal((await server.client().get('/api/runs/forged-unknown-type')).status, 404);
  });

  it('data that does not match its type is refused (an amount where a string belongs)', async () => {
    const text = forge(events, 'forged-data', (e) =>
      e.type === 'run.completed' ? { ...e, data: { output: 15000 } } : e,
    );
    const refused = await importText(server, text);
    assert.equal(refused.body.error.code, 'IMPORT.INVALID_EVENT');
    assert.match(refused.body.error.message, /run\.completed data\.output/);
  });

  it('a body over PARLEY_IMPORT_MAX_BYTES is refused with 413, and nothing is imported', async () => {
    const text = forge(events, 'too-big', (e) => e);
    assert.ok(text.length > 4096, `the export is ${text.length} bytes`);
    const refused = await importText(small, text);
    assert.equal(refused.status, 413, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, 'REQUEST.TOO_LARGE');
    assert.equal((await small.client().get('/api/runs/too-big')).status, 404);
    const fits = await importText(server, text);
    assert.equal(fits.status, 201, 'the same export imports where it fits');
  });
});
