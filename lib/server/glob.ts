// Redis's glob (stringmatchlen): *, ?, [abc], [^a], [a-z], and \ to escape, on raw bytes.

/** True if `s` matches `pattern`. */
export function globMatch(pattern: Buffer, s: Buffer): boolean {
  return match(pattern, s);
}

/** True if the pattern has no special characters, so it can only match itself. */
export function isLiteral(pattern: Buffer): boolean {
  for (const c of pattern) if (c === 42 || c === 63 || c === 91 || c === 92) return false;
  return true;
}

// Greedy with one backtrack point (the last '*'): every other token matches exactly one
// byte, so this is O(pattern x subject) even for hostile patterns like "*a*a*a*a*b".
function match(p: Buffer, s: Buffer): boolean {
  let pi = 0;
  let si = 0;
  let starP = -1;
  let starS = 0;
  while (si < s.length) {
    if (pi < p.length && p[pi] === 42 /* * */) {
      starP = pi++;
      starS = si;
      continue;
    }
    const next = pi < p.length ? matchOne(p, pi, s[si]) : -1;
    if (next >= 0) {
      pi = next;
      si++;
    } else if (starP >= 0) {
      pi = starP + 1;
      si = ++starS;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === 42) pi++;
  return pi === p.length;
}

// Matches the token at p[pi] against one byte: where the pattern resumes, or -1.
function matchOne(p: Buffer, pi: number, ch: number): number {
  const c = p[pi];
  if (c === 63 /* ? */) return pi + 1;
  if (c === 91 /* [ */) {
    const r = matchClass(p, pi + 1, ch);
    return r.matched ? r.next : -1;
  }
  if (c === 92 /* \ */ && pi + 1 < p.length) return p[pi + 1] === ch ? pi + 2 : -1;
  return c === ch ? pi + 1 : -1;
}

// A [...] class starting after '['; returns whether ch is in it and where the pattern resumes.
function matchClass(p: Buffer, pi: number, ch: number): { matched: boolean; next: number } {
  const negate = p[pi] === 94 /* ^ */;
  if (negate) pi++;
  let matched = false;
  while (pi < p.length && p[pi] !== 93 /* ] */) {
    if (p[pi] === 92 && pi + 1 < p.length) {
      pi++;
      if (p[pi] === ch) matched = true;
    } else if (pi + 2 < p.length && p[pi + 1] === 45 /* - */ && p[pi + 2] !== 93) {
      let lo = p[pi];
      let hi = p[pi + 2];
      if (lo > hi) [lo, hi] = [hi, lo];
      if (ch >= lo && ch <= hi) matched = true;
      pi += 2;
    } else if (p[pi] === ch) {
      matched = true;
    }
    pi++;
  }
  return { matched: negate ? !matched : matched, next: pi + 1 };
}
