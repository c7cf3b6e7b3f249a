import js from "@eslint/js";
import tseslint from "typescript-eslint";

const noAppImports = { group: ["@/app/*", "**/app/*"], message: "lib/, db/ and inngest/ never import from app/." };
// The project's inngest/ folder (by alias or relative path), not the "inngest" package.
const INNGEST_FOLDER = /^(@\/|(\.\.\/)+)inngest(\/|$)/;
const noInngestImports = {
  regex: INNGEST_FOLDER.source,
  message: "lib/ never imports inngest/: the composition root (inngest/runtime.ts) hands lib what it needs (Deps, ctx).",
};

export default tseslint.config(
  { ignores: [".next/**", "node_modules/**", ".data/**", "db/migrations/**", "next-env.d.ts", "docs/client/**", "test-results/**", "cli/dist/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    files: ["db/**", "inngest/**"],
    rules: { "no-restricted-imports": ["error", { patterns: [noAppImports] }] },
  },
  {
    // lib/ is handed what it needs (Deps, ctx) by the composition root in inngest/runtime.ts, and never reaches back:
    // that is what keeps services, jobs and the durable functions free of an import circle.
    files: ["lib/**"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [noAppImports, noInngestImports] }],
      "no-restricted-syntax": [
        "error",
        { selector: `ImportExpression[source.value=/${INNGEST_FOLDER.source}/]`, message: noInngestImports.message },
      ],
    },
  },
  {
    files: ["app/**/route.ts"],
    rules: {
      // Route files hold the endpoint only: no database access of their own.
      "no-restricted-imports": ["error", { patterns: [{ group: ["@/db/*", "drizzle-orm", "drizzle-orm/*"], message: "Route files call services in lib/, never the database." }] }],
    },
  },
);
