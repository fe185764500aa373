/**
 * A small seeded pseudo-random generator (sfc32, seeded through splitmix32)
 * for reproducible test campaigns: the same seed always yields the same
 * sequence, on every platform. Not for anything secret.
 *
 * @module
 */

/** A deterministic random source. */
export interface Rng {
  /** The seed it was created with. */
  readonly seed: number;
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n) (n ≥ 1). */
  int(n: number): number;
  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T;
  /** True with probability p. */
  chance(p: number): boolean;
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** A generator seeded with `seed` (any 32-bit integer). */
export function createRng(seed: number): Rng {
  const init = splitmix32(seed);
  let a = init(), b = init(), c = init(), d = init();
  const u32 = () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) u32();
  const next = () => u32() / 4294967296;
  return {
    seed,
    next,
    int: (n) => {
      if (!(n >= 1)) throw new RangeError(`rng.int: n must be ≥ 1, got ${n}`);
      return Math.floor(next() * n);
    },
    pick: (items) => {
      if (items.length === 0) throw new RangeError("rng.pick: empty list");
      return items[Math.floor(next() * items.length)];
    },
    chance: (p) => next() < p,
  };
}
