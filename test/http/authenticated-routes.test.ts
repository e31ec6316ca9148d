import { describe, expectTypeOf, it } from "@effect/vitest"
import { Effect } from "effect"
import { HeadtowerApi } from "../../src/http/Api.js"
import { apiRouter } from "../../src/http/apiRoutes.js"
import { authenticatedApi } from "../../src/http/Authentication.js"
import { Forbidden } from "../../src/domain/errors.js"
import type { Authenticated } from "../../src/services/Authenticator.js"

/*
 * What the compiler refuses at the API's edge (src/http/apiRoutes.ts). `npm run typecheck`
 * covers this file: each `@ts-expect-error` fails it when the line below compiles, and each
 * `expectTypeOf` when the types differ. The routes are built in an effect that is never run.
 */

/** /api/me's handler: it needs the signed-in user, and says so by taking it. */
const me = (_request: unknown, { user }: Authenticated) => Effect.succeed(user)

describe("the API's routes, at compile time", () => {
  it("a handler that needs the signed-in user is refused unless authentication serves it", () => {
    const routes = Effect.gen(function* () {
      const api = yield* apiRouter(HeadtowerApi)
      const authenticated = yield* authenticatedApi
      // @ts-expect-error the public route builder hands no user: a handler that needs one does not compile
      api.route("me", "me", me)
      return authenticated.route("me", "me", me)
    })
    expectTypeOf(me).parameter(1).toEqualTypeOf<Authenticated>()
    expectTypeOf(routes).not.toBeNever()
  })

  it("a handler answers the contract's success shape and errors, at the contract's paths", () => {
    Effect.gen(function* () {
      const api = yield* apiRouter(HeadtowerApi)
      const authenticated = yield* authenticatedApi
      // @ts-expect-error /api/me answers a Me, not any object
      authenticated.route("me", "me", () => Effect.succeed({ id: 1 }))
      // @ts-expect-error /healthz declares no Forbidden
      api.route("health", "healthz", () => Effect.fail(new Forbidden({ message: "no" })))
      // @ts-expect-error the contract has no such endpoint
      api.route("health", "status", () => Effect.succeed({ status: "ok" as const }))
      return api.route("health", "healthz", () => Effect.succeed({ status: "ok" as const }))
    })
  })
})
