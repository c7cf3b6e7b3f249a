import { describe, expect, it } from "vitest";
import { generateToken, hashSecret, parseToken, TOKEN_PATTERN, verifySecret } from "@/lib/keys/token";

const peppers = [
  { version: 2, value: "pepper-two-0123456789abcdefghijklmnopqrstuv" },
  { version: 1, value: "pepper-one-0123456789abcdefghijklmnopqrstuv" },
];

describe("API key tokens", () => {
  it("have the moc_<short>_<secret><checksum> shape and are unique", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const t = generateToken();
      expect(t.token).toMatch(TOKEN_PATTERN);
      expect(t.token.startsWith(`${t.prefix}_`)).toBe(true);
      expect(t.prefix).toBe(`moc_${t.shortId}`);
      expect(t.token).toHaveLength(4 + 8 + 1 + 32 + 6);
      seen.add(t.token);
      seen.add(t.shortId);
    }
    expect(seen.size).toBe(400);
  });

  it("parse back to their short id and secret", () => {
    const t = generateToken();
    expect(parseToken(t.token)).toEqual({ shortId: t.shortId, secret: t.secret });
  });

  it("refuse any single-character typo, truncation or extension by their checksum", () => {
    const t = generateToken().token;
    const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let refused = 0;
    let tried = 0;
    for (let i = 4; i < t.length; i++) {
      if (t[i] === "_") continue;
      const c = alphabet[(alphabet.indexOf(t[i]!) + 7) % 62]!;
      tried++;
      if (parseToken(t.slice(0, i) + c + t.slice(i + 1)) === null) refused++;
    }
    expect(refused).toBe(tried);
    expect(parseToken(t.slice(0, -1))).toBeNull();
    expect(parseToken(t + "a")).toBeNull();
    expect(parseToken(t.replace("moc_", "mok_"))).toBeNull();
    expect(parseToken("")).toBeNull();
    expect(parseToken(" " + t)).toBeNull();
  });

  it("hash the secret with HMAC-SHA256 under a versioned pepper, and verify only under that pepper", () => {
    const t = generateToken();
    const h2 = hashSecret(t.secret, peppers[0]!);
    const h1 = hashSecret(t.secret, peppers[1]!);
    expect(h2).not.toBe(h1);
    expect(h2).not.toContain(t.secret);
    expect(verifySecret(t.secret, h2, 2, peppers)).toBe(true);
    expect(verifySecret(t.secret, h1, 1, peppers)).toBe(true);
    expect(verifySecret(t.secret, h1, 2, peppers)).toBe(false);
    expect(verifySecret(t.secret, h2, 3, peppers)).toBe(false); // a retired pepper
    expect(verifySecret(t.secret.replace(/.$/, "x"), h2, 2, peppers)).toBe(false);
    expect(verifySecret(t.secret, h2.slice(0, -2), 2, peppers)).toBe(false); // different length: no throw
  });
});
