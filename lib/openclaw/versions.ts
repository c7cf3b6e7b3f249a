/**
 * OpenClaw versions as the platform offers them: a version is a tag
 * (`2026.11.20`) and the container image a machine of that version runs. The
 * offered versions live in the `openclaw_version` table (kept by the operator:
 * `npm run admin -- versions add|deprecate|ls`); these are the rules a version
 * and its image must follow, and the one the first migration seeded.
 */

/** Where OpenClaw publishes its images (OpenClaw's Fly guide, docs/install/fly.md). */
export const OPENCLAW_IMAGE_REPOSITORY = "ghcr.io/openclaw/openclaw";

/**
 * The version every machine ran before versions were kept in the database: the
 * migration that made the table (db/migrations, `openclaw_version`) seeded it as
 * the default and gave it to every existing instance. Its SQL restates these two
 * strings, as migrations are frozen; a test checks that they agree.
 */
export const SEEDED_VERSION = { version: "2026.11.20", image: `${OPENCLAW_IMAGE_REPOSITORY}:2026.11.20` } as const;

/** The image of a version added without `--image`: OpenClaw's own, tagged with the version. */
export function defaultImageFor(version: string): string {
  return `${OPENCLAW_IMAGE_REPOSITORY}:${version}`;
}

// The grammar of an image reference, from distribution/reference (reference.go, "Grammar"):
//   reference := name [ ":" tag ] [ "@" digest ]
//   name      := [domain "/"] path-component ["/" path-component]*
//   domain    := domain-component ["." domain-component]* [":" port-number]
//   path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [_.] | "__" | "-"+
//   tag       := [\w][\w.-]{0,127}
//   digest    := algorithm ":" hex (sha256: 64 hex digits)
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]+)?`;
const PATH_COMPONENT = "[a-z0-9]+(?:(?:[_.]|__|-+)[a-z0-9]+)*";
const TAG = "[\\w][\\w.-]{0,127}";
const DIGEST = "sha256:[a-f0-9]{64}";
const REFERENCE = new RegExp(`^(?:(${DOMAIN})/)?(${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const TAG_ONLY = new RegExp(`^${TAG}$`);

/** Tags that name whatever was pushed last: a machine started from one could run anything. */
const FLOATING_TAGS = new Set(["latest"]);

/**
 * Why `ref` is not an image a machine may run, or null when it is one: a
 * well-formed reference pinned by a tag other than `latest`, or by a sha256
 * digest. (A tag-less reference means `latest` to every registry client.)
 */
export function imageRefProblem(ref: string): string | null {
  if (ref.length > 255) return "An image reference is at most 255 characters.";
  const m = REFERENCE.exec(ref);
  if (!m) return `"${ref}" is not an image reference (e.g. ${OPENCLAW_IMAGE_REPOSITORY}:2026.11.20, or name@sha256:<64 hex digits>).`;
  const [, domain, , tag, digest] = m;
  // A first component without "." or ":" (and not localhost) is no registry but the start of the path
  // (Docker Hub's "openclaw/openclaw"), so it must be a path component: lower case.
  if (domain && !/[.:]/.test(domain) && domain !== "localhost" && !new RegExp(`^${PATH_COMPONENT}$`).test(domain)) {
    return `"${ref}" is not an image reference: repository names are lower case.`;
  }
  if (digest) return null;
  if (!tag) return `"${ref}" has no tag, which means latest: pin a tag or a digest (name@sha256:...).`;
  if (FLOATING_TAGS.has(tag)) return `"${ref}" is tagged ${tag}, which moves: pin a release tag or a digest (name@sha256:...).`;
  return null;
}

/** Why `tag` cannot name a version, or null: a version is a tag (letters, digits, `_`, `.`, `-`; up to 128), never `latest`. */
export function versionTagProblem(tag: string): string | null {
  if (!TAG_ONLY.test(tag)) return `"${tag}" is not a version tag: 1-128 letters, digits, "_", "." or "-", starting with a letter, digit or "_".`;
  if (FLOATING_TAGS.has(tag)) return `"${tag}" moves: a version names one release.`;
  return null;
}
