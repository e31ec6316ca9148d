import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as SqlClient from "@effect/sql/SqlClient"
import { Duration, Effect, Option } from "effect"
import { Settings } from "../../services/Settings.js"
import { HeadscaleClient } from "../../services/HeadscaleClient.js"
import { HeadtowerApi, NotReady } from "../Api.js"

/** A readiness probe must answer quickly even when a dependency hangs. */
const CHECK_TIMEOUT = Duration.seconds(3)

const check = <E, R>(effect: Effect.Effect<unknown, E, R>) =>
  effect.pipe(
    Effect.as("ok"),
    Effect.timeoutFail({ duration: CHECK_TIMEOUT, onTimeout: () => "timed out" }),
    Effect.catchAll((e) => Effect.succeed(typeof e === "string" ? e : ((e as { _tag?: string })._tag ?? "failed"))),
    Effect.catchAllDefect(() => Effect.succeed("failed"))
  )

export const HealthLive = HttpApiBuilder.group(HeadtowerApi, "health", (handlers) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const headscale = yield* HeadscaleClient
    const { apiKey } = (yield* Settings).headscale
    return handlers
      .handle("healthz", () => Effect.succeed({ status: "ok" as const }))
      .handle("readyz", () =>
        Effect.gen(function* () {
          const [userStore, headscaleCheck] = yield* Effect.all(
            [
              check(sql`SELECT 1`),
              Option.match(apiKey, {
                onNone: () => Effect.succeed("no api key configured"),
                onSome: (key) => check(headscale.health({ apiKey: key }))
              })
            ],
            { concurrency: 2 }
          )
          const checks = { userStore, headscale: headscaleCheck }
          if (userStore !== "ok" || headscaleCheck !== "ok") {
            return yield* new NotReady({ message: "a dependency is not ready", checks })
          }
          return { status: "ready" as const, checks }
        })
      )
  })
)
