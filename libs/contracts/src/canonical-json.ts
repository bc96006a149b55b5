/**
 * Canonical JSON: object keys sorted (by UTF-16 code unit), no insignificant whitespace,
 * `undefined` members dropped. The same value always gives the same string, which is what
 * the hash chain needs.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    // No prototype: a member named "__proto__" (JSON.parse makes it an own property, a model or an
    // attacker can write one) is then a member like any other and covered by the hash, instead of
    // being assigned as the prototype and silently left out of the canonical form.
    const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const key of Object.keys(value).sort()) {
      const member = (value as Record<string, unknown>)[key];
      if (member !== undefined) out[key] = sortKeys(member);
    }
    return out;
  }
  return value;
}
