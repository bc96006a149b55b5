/**
 * Canonical JSON: object keys sorted (by UTF-16 code unit; keys that are array indices, "0" to
 * "4294967294", first and in numeric order, as JavaScript orders them in any object), no
 * insignificant whitespace, `undefined` members dropped. The same value always gives the same string, which is what
 * the hash chain needs.
 *
 * It is written out directly (no sorted copy of the value is built, then stringified): every event
 * is hashed when it is sealed, and this is on the path of every step. The result is, character for
 * character, `JSON.stringify` of the value with its keys sorted (canonical-json.unit.spec.ts holds
 * that reference and checks the two agree on generated values).
 */
export function canonicalJson(value: unknown, known?: CanonicalMemo): string {
  return write(value, known) as string;
}

/**
 * Objects that many values share and that are never changed, with their canonical texts once
 * written: a reader that hands many events one object (the log's check, with one workflow snapshot
 * for thousands of runs) has its text written once. Plain collections, so that a caller needs no
 * code of this module to make one.
 */
export interface CanonicalMemo {
  shared: WeakSet<object>;
  texts: WeakMap<object, string>;
}

/** As `JSON.stringify(value)` of the sorted value: `undefined` for what JSON leaves out. */
function write(value: unknown, known: CanonicalMemo | undefined): string | undefined {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (known?.shared.has(value)) {
    let text = known.texts.get(value);
    if (text === undefined) {
      text = write(value, undefined) as string;
      known.texts.set(value, text);
    }
    return text;
  }
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      out += write(value[i], known) ?? 'null';
    }
    return `${out}]`;
  }
  // Own enumerable keys, as they are: a member named "__proto__" (JSON.parse makes it an own
  // property; a model or an attacker can write one) is a member like any other, covered by the hash.
  const keys = sortedKeys(value);
  let out = '{';
  let first = true;
  for (const key of keys) {
    const member = write((value as Record<string, unknown>)[key], known);
    if (member === undefined) continue;
    out += first ? '' : ',';
    out += `${JSON.stringify(key)}:${member}`;
    first = false;
  }
  return `${out}}`;
}

/**
 * The order in which JSON.stringify lists the members of an object built by inserting `value`'s
 * keys in sorted order: its array-index keys first, ascending (as `Object.keys` gives them already),
 * then the others, sorted.
 */
function sortedKeys(value: object): string[] {
  const keys = Object.keys(value);
  let indices = 0;
  while (indices < keys.length && isArrayIndex(keys[indices])) indices++;
  if (indices === 0) return keys.sort();
  return keys.slice(0, indices).concat(keys.slice(indices).sort());
}

function isArrayIndex(key: string): boolean {
  const c = key.charCodeAt(0);
  if (c < 48 || c > 57) return false; // most keys: not a digit first
  if (key === '0') return true;
  return /^[1-9][0-9]*$/.test(key) && Number(key) < 4294967295;
}
