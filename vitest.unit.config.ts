import { defineConfig } from "vitest/config"
import { packageAliases } from "./examples/aliases.js"

/*
 * `npm run test:unit`: the tier that needs no nginx, Caddy, Chromium, PostgreSQL or child
 * process — pure decisions, services over fakes and in-memory SQLite, the API over a socket
 * in this process. Under a minute; `npm test` runs everything.
 */
export default defineConfig({
  // The examples import Headtower by its package name (examples/tsconfig.json maps it alike).
  resolve: { alias: packageAliases },
  test: {
    include: [
      "test/domain/**/*.test.ts",
      "test/services/**/*.test.ts",
      "test/http/**/*.test.ts",
      "test/telemetry/tracing-layer.test.ts",
      "test/telemetry/untraced.test.ts",
      "examples/**/*.test.ts"
    ],
    // The repository suite runs over PostgreSQL as well as SQLite.
    exclude: ["test/services/user-repository.test.ts"],
    testTimeout: 30_000
  }
})
