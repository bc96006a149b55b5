import type { GraphNode, PatternGraph } from './pattern-graph';

const W = 170;
const H = 44;
const GAP_X = 60;
const GAP_Y = 24;

const x = (n: GraphNode): number => n.column * (W + GAP_X) + 10;
const y = (n: GraphNode): number => n.row * (H + GAP_Y) + 10;

/** The run's pattern as inline SVG: one box per agent or human gate, the current ones lit. */
export function PatternGraphView({ graph }: { graph: PatternGraph }) {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const width = graph.columns * (W + GAP_X) - GAP_X + 20;
  const height = graph.rows * (H + GAP_Y) - GAP_Y + 20;
  return (
    <section aria-labelledby="graph-h" className="card run-graph">
      <h2 id="graph-h">Pattern: {graph.pattern}</h2>
      <svg
        role="img"
        aria-label={`The ${graph.pattern} pattern of this run`}
        data-testid="pattern-graph"
        viewBox={`0 0 ${Math.max(width, 1)} ${Math.max(height, 1)}`}
        width={Math.max(width, 1)}
        height={Math.max(height, 1)}
      >
        <defs>
          <marker
            id="arrow"
            viewBox="0 0 10 10"
            refX="10"
            refY="5"
            markerWidth="6"
            markerHeight="6"
            orient="auto"
          >
            <path d="M0,0 L10,5 L0,10 z" className="graph-arrow" />
          </marker>
        </defs>
        {graph.edges.map((e) => {
          const a = byId.get(e.from);
          const b = byId.get(e.to);
          if (!a || !b) return null;
          const sameColumn = a.column === b.column;
          const x1 = sameColumn ? x(a) + W / 2 : x(a) + (b.column > a.column ? W : 0);
          const y1 = sameColumn ? y(a) + (b.row > a.row ? H : 0) : y(a) + H / 2;
          const x2 = sameColumn ? x(b) + W / 2 : x(b) + (b.column > a.column ? 0 : W);
          const y2 = sameColumn ? y(b) + (b.row > a.row ? 0 : H) : y(b) + H / 2;
          return (
            <line
              key={`${e.from}-${e.to}`}
              x1={x1}
              y1={y1}
              x2={x2}
              y2={y2}
              className={`graph-edge${e.taken ? ' taken' : ''}`}
              markerEnd="url(#arrow)"
            >
              {e.label && <title>{e.label}</title>}
            </line>
          );
        })}
        {graph.nodes.map((n) => {
          const lit = graph.current.includes(n.id);
          return (
            <g
              key={n.id}
              data-testid="graph-node"
              data-node={n.id}
              data-state={n.state}
              data-current={lit ? 'true' : 'false'}
              className={`graph-node ${n.kind} state-${n.state}${lit ? ' current' : ''}`}
              role="img"
              aria-label={`${n.label}, ${n.part}, ${n.state}${lit ? ', current' : ''}`}
              transform={`translate(${x(n)},${y(n)})`}
            >
              <rect width={W} height={H} rx={n.kind === 'human' ? 22 : 6} />
              <text x={W / 2} y={18} textAnchor="middle" className="graph-label">
                {n.label.length > 22 ? `${n.label.slice(0, 21)}…` : n.label}
              </text>
              <text x={W / 2} y={34} textAnchor="middle" className="graph-part">
                {n.part} · {n.state}
              </text>
            </g>
          );
        })}
      </svg>
    </section>
  );
}
