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

/** A malformed expression; `position` is the 0-based offset in the source where it goes wrong. */
export class ExpressionError extends Error {
  constructor(
    message: string,
    readonly position?: number,
  ) {
    super(message);
    this.name = 'ExpressionError';
  }
}

interface Token {
  text: string;
  pos: number;
}

const TOKEN =
  /(\d+(?:\.\d+)?)|("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(\|\||&&|==|!=|>=|<=|>|<|!|\(|\))|([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)/y;

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let pos = 0;
  for (;;) {
    while (pos < src.length && /\s/.test(src[pos])) pos++;
    if (pos >= src.length) return out;
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(src);
    if (!m)
      throw new ExpressionError(`unexpected character "${src[pos]}" at position ${pos} in "${src}"`, pos);
    out.push({ text: m[0], pos });
    pos = TOKEN.lastIndex;
  }
}

/**
 * The text of a quoted literal. `\\`, `\"`, `\'`, `\n`, `\t` and `\r` are escapes; any other
 * backslash is kept as written, so that a regular expression reads naturally: `"\bsue\b"`, `"\d+"`.
 */
function unquote(token: string): string {
  const body = token.slice(1, -1);
  const ESCAPES: Record<string, string> = { '\\': '\\', '"': '"', "'": "'", n: '\n', t: '\t', r: '\r' };
  return body.replace(/\\(.)/gs, (whole, c: string) => ESCAPES[c] ?? whole);
}

const COMPARISONS = ['==', '!=', '>', '>=', '<', '<=', 'matches', 'contains'];

export function parseExpression(src: string): Node {
  const tokens = tokenize(src);
  let i = 0;
  const peek = (): string | undefined => tokens[i]?.text;
  const at = (): number => tokens[i]?.pos ?? src.length;
  const take = (): Token => {
    const t = tokens[i++];
    if (t === undefined)
      throw new ExpressionError(
        `unexpected end of expression at position ${src.length} in "${src}"`,
        src.length,
      );
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
    if (op && COMPARISONS.includes(op)) {
      i++;
      const rightAt = at();
      const r = primary();
      if (op === 'matches' && r.t === 'lit' && typeof r.v === 'string') {
        try {
          new RegExp(r.v, 'i');
        } catch (error) {
          throw new ExpressionError(
            `invalid regular expression at position ${rightAt} in "${src}": ${(error as Error).message}`,
            rightAt,
          );
        }
      }
      return { t: 'bin', op, l, r };
    }
    return l;
  };
  const primary = (): Node => {
    const token = take();
    const t = token.text;
    if (t === '(') {
      const e = or();
      if (peek() !== ')') throw new ExpressionError(`expected ")" at position ${at()} in "${src}"`, at());
      i++;
      return e;
    }
    if (/^\d/.test(t)) return { t: 'lit', v: Number(t) };
    if (t.startsWith('"') || t.startsWith("'")) return { t: 'lit', v: unquote(t) };
    if (t === 'true' || t === 'false') return { t: 'lit', v: t === 'true' };
    if (t === 'null') return { t: 'lit', v: null };
    if (/^[A-Za-z_]/.test(t) && !COMPARISONS.includes(t)) return { t: 'id', path: t.split('.') };
    throw new ExpressionError(`unexpected "${t}" at position ${token.pos} in "${src}"`, token.pos);
  };
  const node = or();
  if (i !== tokens.length)
    throw new ExpressionError(
      `unexpected "${tokens[i].text}" at position ${tokens[i].pos} in "${src}"`,
      tokens[i].pos,
    );
  return node;
}

export function evaluate(node: Node, scope: unknown): Value {
  switch (node.t) {
    case 'lit':
      return node.v;
    case 'id': {
      let v: unknown = scope;
      for (const key of node.path) {
        if (v === null || typeof v !== 'object' || !Object.prototype.hasOwnProperty.call(v, key))
          return undefined;
        v = (v as Record<string, unknown>)[key];
      }
      // a null field is null (typeof null is 'object': it is no object to compare as JSON)
      return v !== null && typeof v === 'object' ? JSON.stringify(v) : (v as Value);
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
          return typeof l === 'string' && typeof r === 'string' && safeRegExp(r)?.test(l) === true;
        case 'contains':
          return typeof l === 'string' && typeof r === 'string' && l.toLowerCase().includes(r.toLowerCase());
      }
      throw new ExpressionError(`unknown operator ${node.op}`);
    }
  }
}

/** A pattern taken from the arguments may be no regular expression at all: then nothing matches. */
function safeRegExp(source: string): RegExp | undefined {
  try {
    return new RegExp(source, 'i');
  } catch {
    return undefined;
  }
}

function truthy(v: Value): boolean {
  return v !== undefined && v !== null && v !== false && v !== 0 && v !== '';
}

/** Parse and evaluate; `true` only for a truthy result. */
export function test(expression: string, scope: unknown): boolean {
  return truthy(evaluate(parseExpression(expression), scope));
}
