import type { RunEvent } from '@parley/contracts';

/** What other systems are told about a human request (a chat tool, email, a ticket system). */
export interface RequestNotification {
  type: 'request.opened' | 'request.resolved' | 'request.expired' | 'request.closed';
  requestId: string;
  runId: string;
  seq: number;
  at: string;
  kind?: string;
  title?: string;
  ask?: string;
  roles?: string[];
  deadline?: string | null;
  outcome?: string;
  deciders?: string[];
}

/** The notification for an event, when it is one that humans must hear about. */
export function notificationOf(event: RunEvent): RequestNotification | undefined {
  const base = { runId: event.runId, seq: event.seq, at: event.at };
  switch (event.type) {
    case 'human-request.opened':
      return {
        ...base,
        type: 'request.opened',
        requestId: event.data.requestId,
        kind: event.data.kind,
        title: event.data.title,
        ask: event.data.ask,
        roles: event.data.roles,
        deadline: event.data.deadline,
      };
    case 'human-request.resolved':
      return {
        ...base,
        type: 'request.resolved',
        requestId: event.data.requestId,
        outcome: event.data.outcome,
        deciders: event.data.deciders.map((d) => d.id),
      };
    case 'human-request.expired':
      return {
        ...base,
        type: 'request.expired',
        requestId: event.data.requestId,
        outcome: event.data.action,
      };
    case 'human-request.closed':
      // the run ended with the request still open: it is no longer anyone's to answer
      return {
        ...base,
        type: 'request.closed',
        requestId: event.data.requestId,
        outcome: event.data.because,
      };
    default:
      return undefined;
  }
}
