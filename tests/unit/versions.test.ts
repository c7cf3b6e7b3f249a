import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { defaultImageFor, imageRefProblem, SEEDED_VERSION, versionTagProblem } from "@/lib/openclaw/versions";

// The rules a version and its image follow (lib/openclaw/versions.ts): pinned
// image references in the grammar of distribution/reference, never `latest`.

describe("image references", () => {
  it("accepts references pinned by a release tag or a sha256 digest", () => {
    for (const ref of [
      "ghcr.io/openclaw/openclaw:2026.11.20",
      "ghcr.io/openclaw/openclaw:v2026.12.1-rc.1",
      `ghcr.io/openclaw/openclaw@sha256:${"a1".repeat(32)}`,
      `ghcr.io/openclaw/openclaw:2026.11.20@sha256:${"0f".repeat(32)}`,
      "registry.example.com:5000/team/open-claw__x:1",
      "localhost:5000/openclaw:dev_1",
      "openclaw/openclaw:2026.11.20",
      "openclaw:1",
    ]) {
      expect(imageRefProblem(ref), ref).toBeNull();
    }
  });

  it("refuses latest, a missing tag, a bad digest and what is not a reference, saying why", () => {
    expect(imageRefProblem("ghcr.io/openclaw/openclaw:latest")).toMatch(/tagged latest, which moves/);
    expect(imageRefProblem("ghcr.io/openclaw/openclaw")).toMatch(/has no tag, which means latest/);
    expect(imageRefProblem("ghcr.io/openclaw/openclaw@sha256:abc")).toMatch(/not an image reference/);
    expect(imageRefProblem("ghcr.io/OpenClaw/openclaw:1")).toMatch(/not an image reference/); // repository names are lower case
    expect(imageRefProblem("ghcr.io/openclaw/openclaw:")).toMatch(/not an image reference/);
    expect(imageRefProblem("https://ghcr.io/openclaw/openclaw:1")).toMatch(/not an image reference/);
    expect(imageRefProblem("ghcr.io/openclaw/openclaw:1 ")).toMatch(/not an image reference/);
    expect(imageRefProblem(`ghcr.io/openclaw/openclaw:${"x".repeat(129)}`)).toMatch(/not an image reference/);
    expect(imageRefProblem(`ghcr.io/${"a".repeat(250)}:1`)).toMatch(/at most 255/);
    expect(imageRefProblem("")).toMatch(/not an image reference/);
  });
});

describe("version tags", () => {
  it("are tags naming one release", () => {
    for (const tag of ["2026.11.20", "v1.2.3-rc.1", "_build-7"]) expect(versionTagProblem(tag), tag).toBeNull();
    expect(versionTagProblem("latest")).toMatch(/moves/);
    for (const tag of ["", ".hidden", "-x", "a/b", "a:b", "x".repeat(129), "two words"]) expect(versionTagProblem(tag), tag).toMatch(/not a version tag/);
  });

  it("make OpenClaw's own image reference when no image is given", () => {
    expect(defaultImageFor("2026.12.1")).toBe("ghcr.io/openclaw/openclaw:2026.12.1");
    expect(imageRefProblem(defaultImageFor("v2026.12.1-rc_2"))).toBeNull();
  });
});

describe("the seeded version", () => {
  it("is the one the migration inserts, pinned, and given to the instances that existed before", () => {
    expect(imageRefProblem(SEEDED_VERSION.image)).toBeNull();
    const dir = path.resolve(import.meta.dirname, "../../db/migrations");
    const sql = fs.readdirSync(dir).filter((f) => f.endsWith(".sql")).map((f) => fs.readFileSync(path.join(dir, f), "utf8")).join("\n");
    expect(sql).toContain(`VALUES ('${SEEDED_VERSION.version}', '${SEEDED_VERSION.image}', `);
    expect(sql).toContain(`UPDATE "instance" SET "version" = '${SEEDED_VERSION.version}' WHERE "version" IS NULL;`);
  });
});
