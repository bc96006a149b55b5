import type { EventEnvelope, RunView } from '@parley/contracts';

/** Output for people: tables, run events as readable lines, a run's state. */

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

const oneLine = (value: unknown): string =>
  typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
const clip = (text: string, max = 200): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** `#  7  text`, continuation lines of a multi-line text indented under it. */
export function numbered(seq: number | string, text: string): string {
  const prefix = `#${String(seq).padStart(3)}  `;
  return prefix + text.split('\n').join(`\n${' '.repeat(prefix.length)}`);
}

export const PAST: Record<string, string> = {
  approve: 'approved',
  reject: 'rejected',
  edit: 'edited',
  feedback: 'sent feedback on',
  confirm: 'confirmed',
  decline: 'declined',
  answer: 'answered',
  handback: 'handed back',
  close: 'closed',
  skip: 'skipped',
};

/* eslint-disable @typescript-eslint/no-explicit-any */
type AnyData = any;

/**
 * Turns run events into readable lines: who said what, requests opened and decided, status changes.
 * Keeps a little state (tool names by call, open requests) across the events of one run.
 */
export class EventPrinter {
  private readonly tools = new Map<string, string>();
  private readonly open = new Set<string>();
  status = 'running';

  /** The lines for one event (none for bookkeeping events). */
  lines(event: EventEnvelope): string[] {
    const d = event.data as AnyData;
    const out: string[] = [];
    const say = (text: string): void => void out.push(numbered(event.seq, text));
    switch (event.type) {
      case 'run.started':
        say(
          `${d.requestedBy} started ${d.workflow?.name ?? 'a run'}${d.forkOf ? ` (fork of ${d.forkOf.runId} at seq ${d.forkOf.atSeq})` : ''}: ${d.input}`,
        );
        break;
      case 'model-call.completed':
        if (d.structured !== undefined) say(`${d.agent} (${d.purpose}): ${clip(oneLine(d.structured))}`);
        else if (d.content) say(`${d.agent}: ${d.content}`);
        break;
      case 'model-call.failed':
        say(`${d.agent}: the model call failed after ${d.attempts} attempt(s): ${d.message} (${d.code})`);
        break;
      case 'tool-call.requested':
        this.tools.set(d.callId, d.tool);
        say(`${d.agent} requests ${d.tool} ${clip(oneLine(d.args))}`);
        break;
      case 'tool-call.completed':
        say(`tool ${this.tools.get(d.callId) ?? d.callId} → ${clip(oneLine(d.result))}`);
        break;
      case 'tool-call.failed':
        say(`tool ${this.tools.get(d.callId) ?? d.callId} failed: ${d.message} (${d.code})`);
        break;
      case 'tool-call.rejected':
        say(`tool ${this.tools.get(d.callId) ?? d.callId} rejected: ${d.reason}`);
        break;
      case 'human-request.opened': {
        this.open.add(d.requestId);
        const deadline = d.deadline ? `, deadline ${d.deadline}` : '';
        say(
          `? ${d.kind} requested from ${d.roles.join('/')}: ${d.title} [${d.requestId}${deadline}]\n${d.ask}`,
        );
        break;
      }
      case 'human-request.claimed':
        say(`${d.by.id} claimed ${d.requestId}`);
        break;
      case 'human-request.released':
        say(`${d.by.id} handed ${d.requestId} back`);
        break;
      case 'human-decision.recorded':
        say(
          `${d.by.id} (${d.by.role}) ${PAST[d.decision] ?? d.decision} ${d.requestId}${d.comment ? `: "${d.comment}"` : ''}`,
        );
        break;
      case 'human-request.resolved':
        this.open.delete(d.requestId);
        say(`request ${d.requestId} resolved: ${d.outcome}`);
        break;
      case 'human-request.expired':
        this.open.delete(d.requestId);
        say(`request ${d.requestId} expired: ${d.action}${d.escalateTo ? ` to ${d.escalateTo}` : ''}`);
        break;
      case 'human-request.closed':
        this.open.delete(d.requestId);
        say(`request ${d.requestId} closed: the run ${d.because}`);
        break;
      case 'human-message.posted':
        say(`${d.by?.id ?? d.author}: ${d.text}`);
        break;
      case 'handoff.overridden':
        say(`${d.by.id} re-routed to ${d.to}: ${d.reason}`);
        break;
      case 'handoff.performed':
        say(`${d.from} handed off to ${d.to}: ${d.reason}`);
        break;
      case 'escalation.raised':
        say(`escalation (${d.source}): ${d.reason}${d.suggested_action ? ` — ${d.suggested_action}` : ''}`);
        break;
      case 'plan.recorded':
        say(
          `plan r${d.revision} (${d.source}): ${d.steps.map((s: AnyData) => `${s.agent}: ${s.task}`).join('; ')}`,
        );
        break;
      case 'ledger.updated':
        say(`ledger: next ${d.next_speaker}: ${d.instruction}`);
        break;
      case 'speaker.selected':
        say(`→ ${d.speaker} speaks`);
        break;
      case 'run.completed':
        say(`run completed: ${d.output}`);
        break;
      case 'run.failed':
        say(`run failed: ${d.message} (${d.code})`);
        break;
      case 'run.cancelled':
        say(
          `run cancelled${d.by ? ` by ${d.by.id}${d.by.role ? ` (${d.by.role})` : ''}` : ''}${d.reason ? `: ${d.reason}` : ''}`,
        );
        break;
      case 'run.retried':
        say(`${d.by.id} (${d.by.role}) retried the run${d.reason ? `: ${d.reason}` : ''}`);
        break;
      case 'run.imported':
        say(`${d.by.id} (${d.by.role}) imported the run${d.note ? `: ${d.note}` : ''}`);
        break;
      case 'model-call.retried':
        say(`${d.agent}: attempt ${d.attempt} failed (${d.code}: ${d.message}); again in ${d.delayMs} ms`);
        break;
      case 'tool-call.retried':
        say(
          `tool ${this.tools.get(d.callId) ?? d.callId}: attempt ${d.attempt} failed (${d.code}: ${d.message}); again in ${d.delayMs} ms`,
        );
        break;
      case 'model-call.started':
      case 'tool-call.started':
        break;
      default:
        say(`${event.type} ${clip(oneLine(d))}`);
    }
    // a request closed by the run's end: the end follows in the same append and says the status
    const status =
      TERMINAL[event.type] ??
      (event.type === 'human-request.closed'
        ? this.status
        : this.status === 'running' || this.status === 'waiting' || event.type === 'run.retried'
          ? this.open.size
            ? 'waiting'
            : 'running'
          : this.status);
    if (status !== this.status) {
      this.status = status;
      out.push(`      status: ${status}`);
    }
    return out;
  }
}
/* eslint-enable @typescript-eslint/no-explicit-any */

const TERMINAL: Record<string, string> = {
  'run.completed': 'completed',
  'run.failed': 'failed',
  'run.cancelled': 'cancelled',
};

/** A run's state: header, transcript, pending requests, output. */
export function formatState(view: RunView, at?: number): string {
  const lines = [
    `run ${view.runId} (${view.workflow}) ${view.status}${at !== undefined ? ` at seq ${at}` : ` at seq ${view.seq}`}`,
    '',
    'transcript:',
  ];
  for (const t of view.transcript) {
    const who = t.role === 'tool' ? `tool ${t.speaker} →` : `${t.speaker}:`;
    lines.push(numbered(t.seq, `${who} ${t.content}`));
  }
  lines.push('', view.pendingRequests.length ? 'pending requests:' : 'pending requests: none');
  for (const r of view.pendingRequests) {
    lines.push(
      `  ${r.id}  ${r.kind}  ${r.title}  (for ${r.roles.join('/')}${r.deadline ? `, deadline ${r.deadline}` : ''})`,
    );
  }
  if (view.output) lines.push('', `output: ${view.output}`);
  if (view.failure) lines.push('', `failure: ${view.failure.message} (${view.failure.code})`);
  return lines.join('\n');
}
