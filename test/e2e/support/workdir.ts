import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

/**
 * A temp directory for one test file's configs, logs and databases. Kept when
 * E2E_KEEP_WORKDIR is set so the logs of a failed run can be read afterwards.
 */
export const makeWorkDir = (name: string) => {
  const dir = mkdtempSync(join(tmpdir(), `headtower-e2e-${name}-`))
  return {
    dir,
    path: (file: string) => join(dir, file),
    remove: () => {
      if (process.env["E2E_KEEP_WORKDIR"] === undefined) rmSync(dir, { recursive: true, force: true })
    }
  }
}
