import { randomBytes } from "node:crypto";

/** Every id prefix the API uses; an id's prefix says what it names. */
export const ID_PREFIXES = ["usr", "key", "inst", "op", "wh", "msg", "dlv", "req", "rol", "bkp"] as const;
export type IdPrefix = (typeof ID_PREFIXES)[number];

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"; // Crockford base32: sorts like the values it encodes
const TIME_CHARS = 10; // 50 bits of milliseconds: good until the year 37000
const RANDOM_CHARS = 16; // 80 bits

let lastTime = -1;
let lastRandom: number[] = [];

/**
 * A new id such as `inst_01JD3Z...`: a ULID (millisecond time, then randomness)
 * in lower case, so ids sort by creation time as strings, which cursor
 * pagination relies on. Within one millisecond the random part is incremented,
 * so ids made by this process are strictly increasing.
 */
export function newId<P extends IdPrefix>(prefix: P, now: number = Date.now()): `${P}_${string}` {
  let random: number[];
  if (now === lastTime) {
    random = increment(lastRandom);
  } else {
    const bytes = randomBytes(RANDOM_CHARS);
    random = Array.from(bytes, (b) => b % 32);
  }
  lastTime = now;
  lastRandom = random;
  let time = "";
  let t = now;
  for (let i = 0; i < TIME_CHARS; i++) {
    time = ALPHABET[t % 32]! + time;
    t = Math.floor(t / 32);
  }
  return `${prefix}_${(time + random.map((d) => ALPHABET[d]).join("")).toLowerCase()}`;
}

function increment(digits: number[]): number[] {
  const out = [...digits];
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i]! < 31) {
      out[i]! += 1;
      return out;
    }
    out[i] = 0;
  }
  return out; // 2^80 ids in one millisecond: wraps, never happens
}

/** A well-formed id of this prefix: the prefix, `_`, 26 lower-case Crockford base32 digits (what `newId` makes). */
export function idPattern(prefix: IdPrefix): RegExp {
  return new RegExp(`^${prefix}_[0-9a-hjkmnp-tv-z]{26}$`);
}

const PATTERNS = new Map(ID_PREFIXES.map((p) => [p, idPattern(p)]));

/** True when `value` is a well-formed id with the given prefix. */
export function isId(prefix: IdPrefix, value: string): boolean {
  return PATTERNS.get(prefix)!.test(value);
}
