import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Real servers (nginx, Chromium, PostgreSQL) start in some suites; give them room.
    testTimeout: 30_000,
    hookTimeout: 60_000
  }
})
