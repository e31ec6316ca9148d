import { defineConfig } from "vitest/config"
import { packageAliases } from "./examples/aliases.js"

export default defineConfig({
  // The examples import Headtower by its package name (examples/tsconfig.json maps it alike).
  resolve: { alias: packageAliases },
  test: {
    include: ["test/**/*.test.ts", "examples/**/*.test.ts"],
    // Real servers (nginx, Chromium, PostgreSQL) start in some suites; give them room.
    testTimeout: 30_000,
    hookTimeout: 60_000
  }
})
