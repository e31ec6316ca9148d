#!/usr/bin/env -S node --max-old-space-size=256
// The `headtower` command: the compiled CLI that `npm run build` writes to dist/ (`npm start` builds
// first), with the V8 heap flags of package.json's start script (why: README, Commands).
import { existsSync } from "node:fs"

const main = new URL("../dist/main.js", import.meta.url)
if (!existsSync(main)) {
  console.error("headtower: not built yet; run `npm run build` in the repository first")
  process.exit(1)
}
await import(main.href)
