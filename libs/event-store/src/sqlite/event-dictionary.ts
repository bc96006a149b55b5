import { createHash } from 'node:crypto';

/**
 * The preset dictionary of the SQLite log's compact event encoding, version 1 (deflate finds in it
 * the keys and phrases that every stored body repeats, so that even a 200-byte body compresses).
 *
 * FROZEN: rows written with it can only be read back with exactly these bytes
 * (event-codec.unit.spec.ts pins their SHA-256). A better dictionary is a new version beside this
 * one, with its own codec byte; this one stays for the rows that name it.
 *
 * Built from typical event bodies, as the codec stores them (`[type, schemaVersion, actor, data]`,
 * the run id written as \u0001): the rarer ones first, the commonest last (deflate reaches the end of
 * the dictionary with the shortest distances). Ids and hashes are left out: they do not repeat.
 */
const SAMPLES_V1: string[] = [
  '["run.failed",1,{"kind":"system","id":"parley"},{"error":{"code":"MODEL.UNAVAILABLE","message":"the model provider failed","retryable":true}}]',
  '["run.cancelled",1,{"kind":"human","id":"admin","role":"admin"},{"reason":"cancelled by an operator"}]',
  '["run.retried",1,{"kind":"human","id":"admin","role":"admin"},{"fromSeq":1,"reason":"retry after the failure"}]',
  '["run.imported",1,{"kind":"service","id":"import"},{"from":{"runId":"","head":""},"events":0}]',
  '["model-call.failed",1,{"kind":"agent","id":"assistant"},{"callId":"","agent":"assistant","purpose":"reply","error":{"code":"MODEL.TIMEOUT","message":"timed out","retryable":true},"attempts":3}]',
  '["model-call.retried",1,{"kind":"agent","id":"assistant"},{"callId":"","attempt":2,"error":{"code":"MODEL.RATE_LIMITED","message":"429 Too Many Requests"},"delayMs":1000}]',
  '["tool-call.failed",1,{"kind":"system","id":"parley"},{"callId":"","error":{"code":"TOOL.FAILED","message":"the tool failed","retryable":false}}]',
  '["tool-call.retried",1,{"kind":"system","id":"parley"},{"callId":"","attempt":2}]',
  '["tool-call.rejected",1,{"kind":"human","id":"bob"},{"callId":"","reason":"rejected by a human","requestId":""}]',
  '["human-request.claimed",1,{"kind":"human","id":"alice"},{"requestId":"","by":{"id":"alice","role":"approver"}}]',
  '["human-request.released",1,{"kind":"human","id":"alice"},{"requestId":"","by":{"id":"alice","role":"approver"}}]',
  '["human-request.expired",1,{"kind":"system","id":"parley"},{"requestId":"","then":"escalate"}]',
  '["human-request.closed",1,{"kind":"system","id":"parley"},{"requestId":"","reason":"the run ended"}]',
  '["human-message.posted",2,{"kind":"human","id":"alice"},{"messageId":"","text":"","mentions":[]}]',
  '["handoff.overridden",1,{"kind":"human","id":"alice"},{"from":"triage","to":"specialist","reason":""}]',
  '["handoff.performed",1,{"kind":"agent","id":"triage"},{"from":"triage","to":"specialist","reason":"","callId":""}]',
  '["escalation.raised",1,{"kind":"system","id":"parley"},{"reason":"","suggestedAction":"A human takes over the case.","roles":["approver"],"requestId":""}]',
  '["plan.recorded",1,{"kind":"agent","id":"planner"},{"plan":{"steps":[{"agent":"","task":""}]}}]',
  '["ledger.updated",1,{"kind":"agent","id":"orchestrator"},{"ledger":{"facts":[],"plan":[],"progress":"","nextSpeaker":""}}]',
  '["speaker.selected",1,{"kind":"system","id":"parley"},{"speaker":"","round":1,"reason":""}]',
  '["run.started",1,{"kind":"human","id":"alice"},{"workflow":{"name":"","description":"","agents":[{"name":"assistant","model":"offline","system":"You are the ","tools":[]}],"policies":{"approvals":[{"roles":["approver"],"quorum":1,"fourEyes":true,"timeout":{"after":"1h","then":"escalate","escalateTo":"admin"},"tool":"","when":"amount > 100","kind":"approval"}],"escalations":[{"inputMatches":"","reason":"","suggestedAction":"","roles":["approver"]}]},"pattern":"single-agent","agent":"assistant","maxSteps":8},"input":"Please ","requestedBy":"alice"}]',
  '["run.started",1,{"kind":"human","id":"maya"},{"workflow":{"name":"","description":"","agents":[],"pattern":"sequential","stages":[{"agent":"writer","review":true}]},"input":"Write an article about ","requestedBy":"maya"}]',
  '["human-request.opened",1,{"kind":"system","id":"parley"},{"requestId":"","kind":"review","subject":{"type":"stage","index":0},"title":"Review stage 1 (writer)","ask":"Review the writer\'s output before it goes to the next stage: approve, edit it, or send feedback.","payload":{"stage":0,"agent":"writer","output":""},"payloadHash":"","decisions":["approve","edit","feedback"],"roles":["approver"],"quorum":1,"fourEyes":false,"requester":"maya","deadline":null}]',
  '["tool-call.completed",1,{"kind":"system","id":"parley"},{"callId":"","result":{"status":"ok"},"reconciled":false}]',
  '["tool-call.started",1,{"kind":"system","id":"parley"},{"callId":"","idempotencyKey":"\u0001:"}]',
  '["human-request.opened",1,{"kind":"system","id":"parley"},{"requestId":"","kind":"approval","subject":{"type":"tool-call","callId":""},"title":"Approve ","ask":" wants to run  with {\\"amount\\":} (policy: amount > 100).","payload":{"tool":"","args":{"amount":}},"payloadHash":"","decisions":["approve","reject","edit"],"roles":["approver"],"quorum":1,"fourEyes":true,"requester":"","deadline":"","onTimeout":{"action":"escalate","escalateTo":"admin"},"policy":{"type":"approval","index":0}}]',
  '["tool-call.requested",1,{"kind":"agent","id":"assistant"},{"callId":"","agent":"assistant","tool":"","args":{"id":"","amount":,"reason":""},"argsHash":"","idempotencyKey":"\u0001:"}]',
  '["human-decision.recorded",1,{"kind":"human","id":"bob"},{"requestId":"","decision":"approve","by":{"id":"bob","role":"approver"},"payloadHash":""}]',
  '["human-request.resolved",1,{"kind":"human","id":"bob"},{"requestId":"","outcome":"approve","deciders":[{"id":"bob","role":"approver"}]}]',
  '["run.completed",1,{"kind":"system","id":"parley"},{"output":"Done. "}]',
  '["model-call.completed",1,{"kind":"agent","id":"assistant"},{"callId":"","agent":"assistant","purpose":"reply","content":"","toolCalls":[{"id":"call_","name":"","arguments":{}}],"attempts":1,"usage":{"promptTokens":,"completionTokens":}}]',
  '["model-call.completed",1,{"kind":"agent","id":"assistant"},{"callId":"","agent":"assistant","purpose":"reply","content":"","toolCalls":[],"attempts":1,"usage":{"promptTokens":,"completionTokens":}}]',
  '["model-call.started",1,{"kind":"agent","id":"assistant"},{"callId":"","agent":"assistant","purpose":"reply","model":"offline"}]',
];

/** Dictionary version 1: the samples above, one after the other. */
export const DICTIONARY_V1: Buffer = Buffer.from(SAMPLES_V1.join(''), 'utf8');

/** SHA-256 of DICTIONARY_V1 (hex): what the rows that name version 1 were written with. */
export const DICTIONARY_V1_SHA256 = createHash('sha256').update(DICTIONARY_V1).digest('hex');
