/** The inbox's keys, documented where they are used. */
export const SHORTCUTS: Array<[string, string]> = [
  ['j / ↓', 'next request'],
  ['k / ↑', 'previous request'],
  ['a', 'approve (or confirm)'],
  ['r', 'reject (or decline)'],
  ['e', 'edit the proposal'],
  ['c', 'claim'],
  ['h', 'hand a claimed request back'],
  ['/', 'search'],
  ['?', 'show or hide these keys'],
];

export function Shortcuts({ open, onToggle }: { open: boolean; onToggle: (open: boolean) => void }) {
  return (
    <details
      className="shortcuts"
      open={open}
      onToggle={(e) => onToggle((e.target as HTMLDetailsElement).open)}
    >
      <summary>Keyboard shortcuts</summary>
      <dl>
        {SHORTCUTS.map(([key, what]) => (
          <div key={key}>
            <dt>
              <kbd>{key}</kbd>
            </dt>
            <dd>{what}</dd>
          </div>
        ))}
      </dl>
    </details>
  );
}
