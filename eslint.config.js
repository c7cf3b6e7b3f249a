import js from "@eslint/js";
import tseslint from "typescript-eslint";

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
    files: ["lib/**", "db/**", "inngest/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: [{ group: ["@/app/*", "**/app/*"], message: "lib/, db/ and inngest/ never import from app/." }] },
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
