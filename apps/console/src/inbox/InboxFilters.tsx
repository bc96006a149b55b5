import type { InboxCounts } from '@parley/client';
import { HUMAN_REQUEST_KINDS } from '@parley/contracts/events/human.events';
import { EXPIRING_SOON_MS, type InboxFilter } from './inbox-model';

/** A choice with how many of the inbox's requests have it (the server's counts), when there are some. */
const counted = (value: string, n: number | undefined): string => (n ? `${value} (${n})` : value);

/**
 * The inbox's filter bar: kind, role, workflow, run, claimed by me, expiring soon, search, order.
 * Each choice says how many of the inbox's requests it holds; the run choices are the runs listed.
 */
export function InboxFilters({
  filter,
  onChange,
  roles,
  workflows,
  runs,
  counts,
  searchRef,
}: {
  filter: InboxFilter;
  onChange: (filter: InboxFilter) => void;
  roles: string[];
  workflows: string[];
  runs: Array<{ runId: string; label: string }>;
  counts: InboxCounts;
  searchRef: React.Ref<HTMLInputElement>;
}) {
  const set = <K extends keyof InboxFilter>(key: K, value: InboxFilter[K]): void =>
    onChange({ ...filter, [key]: value });
  return (
    <form
      className="filters inbox-filters"
      role="search"
      aria-label="Filter the inbox"
      onSubmit={(e) => e.preventDefault()}
    >
      <div className="grow">
        <label htmlFor="if-search">Search</label>
        <input
          id="if-search"
          ref={searchRef}
          type="search"
          placeholder="title, ask, run…"
          value={filter.search}
          onChange={(e) => set('search', e.target.value)}
        />
      </div>
      <div>
        <label htmlFor="if-kind">Kind</label>
        <select id="if-kind" value={filter.kind} onChange={(e) => set('kind', e.target.value)}>
          <option value="">Any kind</option>
          {HUMAN_REQUEST_KINDS.map((k) => (
            <option key={k} value={k}>
              {counted(k, counts.kinds[k])}
            </option>
          ))}
        </select>
      </div>
      <div>
        <label htmlFor="if-role">Role</label>
        <select id="if-role" value={filter.role} onChange={(e) => set('role', e.target.value)}>
          <option value="">Any role</option>
          {roles.map((r) => (
            <option key={r} value={r}>
              {counted(r, counts.roles[r])}
            </option>
          ))}
        </select>
      </div>
      <div>
        <label htmlFor="if-workflow">Workflow</label>
        <select id="if-workflow" value={filter.workflow} onChange={(e) => set('workflow', e.target.value)}>
          <option value="">Any workflow</option>
          {workflows.map((w) => (
            <option key={w} value={w}>
              {counted(w, counts.workflows[w])}
            </option>
          ))}
        </select>
      </div>
      <div>
        <label htmlFor="if-run">Run</label>
        <select id="if-run" value={filter.runId} onChange={(e) => set('runId', e.target.value)}>
          <option value="">Any run</option>
          {runs.map((r) => (
            <option key={r.runId} value={r.runId}>
              {r.label}
            </option>
          ))}
        </select>
      </div>
      <div>
        <label htmlFor="if-sort">Order</label>
        <select
          id="if-sort"
          value={filter.sort}
          onChange={(e) => set('sort', e.target.value as InboxFilter['sort'])}
        >
          <option value="deadline">Deadline first</option>
          <option value="age">Oldest first</option>
        </select>
      </div>
      <div className="checks">
        <label>
          <input type="checkbox" checked={filter.mine} onChange={(e) => set('mine', e.target.checked)} />{' '}
          Claimed by me{counts.mine ? ` (${counts.mine})` : ''}
        </label>
        <label>
          <input
            type="checkbox"
            checked={filter.expiring}
            onChange={(e) => set('expiring', e.target.checked)}
          />{' '}
          Expiring soon (&lt; {EXPIRING_SOON_MS / 60_000} min)
        </label>
      </div>
    </form>
  );
}
