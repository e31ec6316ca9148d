import { fileURLToPath } from "node:url"

/** The package's names → this repository's sources, for vitest (examples/tsconfig.json maps them for tsc and tsx). */
export const packageAliases = [
  { find: /^headtower$/, replacement: fileURLToPath(new URL("../src/index.ts", import.meta.url)) },
  { find: /^headtower\/testing$/, replacement: fileURLToPath(new URL("../src/testing/index.ts", import.meta.url)) }
]
