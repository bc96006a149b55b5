/**
 * A small, safe expression language for policies over a tool call's arguments, e.g.
 * `amount > 100`, `amount > 500 || reason matches "lawyer|legal"`, `currency == "EUR" && amount >= 50`.
 * Operators: `|| && !`, comparisons `== != > >= < <=`, `matches` (case-insensitive regex),
 * `contains` (substring), parentheses; literals: numbers, "strings", true, false, null;
 * identifiers with dots (`customer.tier`). No function calls, no assignment, no prototype access.
 */
export type Value = number | string | boolean | null | undefined;
type Node =
  | { t: 'lit'; v: Value }
  | { t: 'id'; path: string[] }
  | { t: 'not'; e: Node }
  | { t: 'bin'; op: string; l: Node; r: Node };

export class ExpressionError extends Error {}

const TOKEN = /\s*(?:(\d+(?:\.\d+)?)|("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(\|\||&&|==|!=|>=|<=|>|<|!|\(|\))|([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*))/y;

function tokenize(src: string): string[] {
  const out: string[] = [];
  TOKEN.lastIndex = 0;
  let pos = 0;
  while (pos < src.length) {
    if (/^\s*$/.test(src.slice(pos))) break;
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(src);
    if (!m) throw new ExpressionError(`unexpected character at position ${pos} in "${src}"`);
    out.push(m[0].trim());
    pos = TOKEN.lastIndex;
  }
  return out;
}

export function parseExpression(src: string): Node {
  const tokens = tokenize(src);
  let i = 0;
  const peek = (): string | undefined => tokens[i];
  const take = (): string => {
    const t = tokens[i++];
    if (t === undefined) throw new ExpressionError(`unexpected end of expression "${src}"`);
    return t;
  };
  const or = (): Node => {
    let l = and();
    while (peek() === '||') {
      i++;
      l = { t: 'bin', op: '||', l, r: and() };
    }
    return l;
  };
  const and = (): Node => {
    let l = unary();
    while (peek() === '&&') {
      i++;
      l = { t: 'bin', op: '&&', l, r: unary() };
    }
    return l;
  };
  const unary = (): Node => {
    if (peek() === '!') {
      i++;
      return { t: 'not', e: unary() };
    }
    return comparison();
  };
  const comparison = (): Node => {
    const l = primary();
    const op = peek();
    if (op && ['==', '!=', '>', '>=', '<', '<=', 'matches', 'contains'].includes(op)) {
      i++;
      return { t: 'bin', op, l, r: primary() };
    }
    return l;
  };
  const primary = (): Node => {
    const t = take();
    if (t === '(') {
      const e = or();
      if (take() !== ')') throw new ExpressionError(`expected ")" in "${src}"`);
      return e;
    }
    if (/^\d/.test(t)) return { t: 'lit', v: Number(t) };
    if (t.startsWith('"') || t.startsWith("'")) return { t: 'lit', v: JSON.parse(`"${t.slice(1, -1).replace(/"/g, '\\"')}"`) };
    if (t === 'true' || t === 'false') return { t: 'lit', v: t === 'true' };
    if (t === 'null') return { t: 'lit', v: null };
    if (/^[A-Za-z_]/.test(t)) return { t: 'id', path: t.split('.') };
    throw new ExpressionError(`unexpected "${t}" in "${src}"`);
  };
  const node = or();
  if (i !== tokens.length) throw new ExpressionError(`unexpected "${tokens[i]}" in "${src}"`);
  return node;
}

export function evaluate(node: Node, scope: unknown): Value {
  switch (node.t) {
    case 'lit':
      return node.v;
    case 'id': {
      let v: unknown = scope;
      for (const key of node.path) {
        if (v === null || typeof v !== 'object' || !Object.prototype.hasOwnProperty.call(v, key)) return undefined;
        v = (v as Record<string, unknown>)[key];
      }
      return typeof v === 'object' ? JSON.stringify(v) : (v as Value);
    }
    case 'not':
      return !truthy(evaluate(node.e, scope));
    case 'bin': {
      if (node.op === '||') return truthy(evaluate(node.l, scope)) || truthy(evaluate(node.r, scope));
      if (node.op === '&&') return truthy(evaluate(node.l, scope)) && truthy(evaluate(node.r, scope));
      const l = evaluate(node.l, scope);
      const r = evaluate(node.r, scope);
      switch (node.op) {
        case '==':
          return l === r;
        case '!=':
          return l !== r;
        case '>':
          return typeof l === typeof r && l != null && r != null && l > r;
        case '>=':
          return typeof l === typeof r && l != null && r != null && l >= r;
        case '<':
          return typeof l === typeof r && l != null && r != null && l < r;
        case '<=':
          return typeof l === typeof r && l != null && r != null && l <= r;
        case 'matches':
          return typeof l === 'string' && typeof r === 'string' && new RegExp(r, 'i').test(l);
        case 'contains':
          return typeof l === 'string' && typeof r === 'string' && l.toLowerCase().includes(r.toLowerCase());
      }
      throw new ExpressionError(`unknown operator ${node.op}`);
    }
  }
}

function truthy(v: Value): boolean {
  return v !== undefined && v !== null && v !== false && v !== 0 && v !== '';
}

/** Parse and evaluate; `true` only for a truthy result. */
export function test(expression: string, scope: unknown): boolean {
  return truthy(evaluate(parseExpression(expression), scope));
}
