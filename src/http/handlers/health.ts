import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as SqlClient from "@effect/sql/SqlClient"
import { Duration, Effect, Option } from "effect"
import { AssertionVerifier } from "../../services/AssertionVerifier.js"
import { HeadscaleClient } from "../../services/HeadscaleClient.js"
import { Settings } from "../../services/Settings.js"
import { HeadtowerApi, NotReady } from "../Api.js"
import { apiRouter } from "../apiRoutes.js"

/** A readiness probe must answer quickly even when a dependency hangs. */
const CHECK_TIMEOUT = Duration.seconds(3)
/*
 * /readyz needs no authentication, and its Headscale check spends the operator's API key: the
 * answer is shared for this long by everyone who asks, and one check at a time is made (those
 * who ask meanwhile wait for it), so a flood of probes makes one Headscale call per period.
 */
const HEADSCALE_READINESS_TTL = Duration.seconds(5)

const check = <E, R>(effect: Effect.Effect<unknown, E, R>) =>
  effect.pipe(
    Effect.as("ok"),
    Effect.timeoutFail({ duration: CHECK_TIMEOUT, onTimeout: () => "timed out" }),
    Effect.catchAll((e) => Effect.succeed(typeof e === "string" ? e : ((e as { _tag?: string })._tag ?? "failed"))),
    Effect.catchAllDefect(() => Effect.succeed("failed"))
  )

/** The same frozen answer every time, so its response is made once (successAnswers.ts). */
const healthy = Effect.succeed(Object.freeze({ status: "ok" as const }))

export const HealthRoutes = HttpLayerRouter.addAll(
  Effect.gen(function* () {
    const { route } = yield* apiRouter(HeadtowerApi)
    const sql = yield* SqlClient.SqlClient
    const headscale = yield* HeadscaleClient
    const { apiKey } = (yield* Settings).headscale
    const assertions = yield* AssertionVerifier
    // Effect.cachedWithTTL serialises callers on its cache: the first runs the check, the rest reuse it.
    const headscaleReady = yield* Effect.cachedWithTTL(
      Option.match(apiKey, {
        onNone: () => Effect.succeed("no api key configured"),
        onSome: (key) => check(headscale.health({ apiKey: key }))
      }).pipe(
        // Logged where it is checked: once per period, not once per probe.
        Effect.tap((result) =>
          result === "ok" ? Effect.void : Effect.logWarning(`not ready: Headscale check: ${result}`)
        )
      ),
      HEADSCALE_READINESS_TTL
    )
    return [
      route("health", "healthz", () => healthy),
      route("health", "readyz", () =>
        Effect.gen(function* () {
          const [userStore, headscaleCheck] = yield* Effect.all([check(sql`SELECT 1`), headscaleReady], {
            concurrency: 2
          })
          // Assertion mode: the signing keys' last load failed (their loader logs why, once per attempt).
          const keys = assertions.unavailable()
          if (userStore !== "ok" || headscaleCheck !== "ok" || keys !== undefined) {
            if (userStore !== "ok") yield* Effect.logWarning(`not ready: user store check: ${userStore}`)
            return yield* new NotReady({ message: "a dependency is not ready" })
          }
          return { status: "ready" as const }
        })
      )
    ]
  })
)
