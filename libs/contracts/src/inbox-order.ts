import type { InboxSort } from './http/api.schemas';

/** What the inbox's order reads of a request. */
export interface InboxOrdered {
  id: string;
  runId: string;
  createdAt: string;
  deadline: string | null;
}

/** Sorts after every ISO date-time: a request without a deadline comes last in deadline order. */
const NO_DEADLINE = '~';

/**
 * A request's place in the inbox's order, as a string compared code unit by code unit: the deadline
 * (none last) then the age, or the age alone; the request id breaks ties, so no two keys are equal.
 * The server pages by it (a cursor names a key) and the client orders what it holds by it.
 */
export function inboxKey(request: InboxOrdered, sort: InboxSort): string {
  return sort === 'deadline'
    ? `${request.deadline ?? NO_DEADLINE}\u0000${request.createdAt}\u0000${request.id}`
    : `${request.createdAt}\u0000${request.id}`;
}

export interface InboxGroup<R extends InboxOrdered> {
  runId: string;
  requests: R[];
}

/**
 * The inbox's order of some requests, grouped by run: a run's requests together, in order, and the
 * runs ordered by their first request. Server and client order alike with it, so a page the server
 * sends and the changes pushed after it are shown in the order the server pages in.
 */
export function inboxGroups<R extends InboxOrdered>(requests: Iterable<R>, sort: InboxSort): InboxGroup<R>[] {
  const keyed = [...requests].map((request) => ({ request, key: inboxKey(request, sort) }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const groups = new Map<string, InboxGroup<R>>();
  for (const { request } of keyed) {
    const group = groups.get(request.runId) ?? { runId: request.runId, requests: [] };
    group.requests.push(request);
    groups.set(request.runId, group);
  }
  return [...groups.values()];
}
