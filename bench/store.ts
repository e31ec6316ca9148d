import { SqlClient } from "@effect/sql"
import { Effect, Layer, ManagedRuntime } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { AppConfig } from "../src/domain/AppConfig.js"
import type { UserId } from "../src/domain/User.js"
import { parseConfig } from "../src/domain/config/parse.js"
import { Authenticator } from "../src/services/Authenticator.js"
import { DatabaseLive } from "../src/services/Database.js"
import { Settings } from "../src/services/Settings.js"
import { quietTracer } from "../src/services/spans.js"
import { UserRepository } from "../src/services/UserRepository.js"

/*
 * The production services in this process, over a SQLite file configured the way a
 * deployment configures it (YAML through the real parser), for the in-process measurements.
 */

export const BENCH_API_KEY = "hskey-api-bench-0123456789abcdef"

export const tempDir = (): { readonly dir: string; readonly remove: () => void } => {
  const dir = mkdtempSync(join(tmpdir(), "headtower-bench-"))
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/** The YAML a deployment would write; `extra` lands under `server`. */
export const configYaml = (options: { readonly dbPath: string; readonly syncTtl: number; readonly listen?: string }) =>
  [
    "headscale:",
    "  url: http://127.0.0.1:9",
    `  api_key: ${BENCH_API_KEY}`,
    "server:",
    ...(options.listen === undefined ? [] : [`  listen: "${options.listen}"`]),
    "  proxy_auth:",
    "    enabled: true",
    "    user_header: Remote-User",
    "    email_header: Remote-Email",
    "    name_header: Remote-Name",
    `    sync_ttl_seconds: ${options.syncTtl}`,
    "database:",
    `  url: "sqlite:${options.dbPath}"`,
    ""
  ].join("\n")

export const benchConfig = (dbPath: string, syncTtl: number): AppConfig => {
  const result = parseConfig({
    yaml: configYaml({ dbPath, syncTtl }),
    env: {},
    files: {
      readText: () => {
        throw new Error("no files")
      }
    }
  })
  if (result.config === undefined) throw new Error(JSON.stringify(result.errors))
  return result.config
}

/**
 * Authenticator + repository + raw SQL over one SQLite file, built once — under `quietTracer`
 * as `serve` builds them without an exporter, unless `traced` asks for Effect's default tracer.
 */
export const servicesRuntime = (dbPath: string, syncTtl: number, traced = false) =>
  ManagedRuntime.make(
    Authenticator.Default.pipe(
      Layer.provideMerge(UserRepository.Default),
      Layer.provideMerge(DatabaseLive),
      Layer.provideMerge(Layer.succeed(Settings, benchConfig(dbPath, syncTtl))),
      Layer.provide(traced ? Layer.empty : Layer.setTracer(quietTracer))
    )
  )

export const benchIdentity = (i: number) => `bench-user-${i}`

/** The id `populate` gives its `i`th user. */
export const populatedId = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, "0")}` as UserId

/** Inserts `count` members straight into the store, 500 rows a statement, in one transaction. */
export const populate = (count: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const now = new Date().toISOString()
    yield* sql.withTransaction(
      Effect.gen(function* () {
        for (let start = 0; start < count; start += 500) {
          const rows = []
          for (let i = start; i < Math.min(count, start + 500); i++) {
            rows.push({
              id: populatedId(i),
              identity: `proxy:${benchIdentity(i)}`,
              email: `${benchIdentity(i)}@example.com`,
              name: null,
              picture: null,
              role: i === 0 ? "owner" : "member",
              disabled: 0,
              created_at: now,
              last_seen_at: now
            })
          }
          yield* sql`INSERT INTO users ${sql.insert(rows)}`
        }
      })
    )
  })
