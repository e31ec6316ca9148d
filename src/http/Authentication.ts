import type * as HttpApi from "@effect/platform/HttpApi"
import type * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import type * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Context, Effect } from "effect"
import type { ProxyAuthConfig } from "../domain/AppConfig.js"
import { type AuthenticationError, type Forbidden, statusOf } from "../domain/errors.js"
import type { Capability } from "../domain/permissions.js"
import { type Authenticated, Authenticator } from "../services/Authenticator.js"
import { Settings } from "../services/Settings.js"
import { UserRepository } from "../services/UserRepository.js"
import { HeadtowerApi } from "./Api.js"
import { apiRouter } from "./apiRoutes.js"
import { capabilityCheck } from "./handlers/roles.js"
import { setOnNodeResponse } from "./answers.js"
import { refusalResponse } from "./edge.js"
import { requestFactsOf } from "./requestFacts.js"
import { boundedBody } from "./requestBody.js"

/**
 * What every answer of an authenticated route says to caches: it depends on who asked, and
 * who asked travels in request headers no shared cache keys on. `no-store` keeps it out of
 * every cache; `Vary` names those headers for any cache that would keep it anyway.
 */
export const identityHeaders = (proxyAuth: ProxyAuthConfig): Readonly<Record<string, string>> => {
  const names = [
    proxyAuth.userHeader,
    proxyAuth.emailHeader,
    proxyAuth.nameHeader,
    proxyAuth.pictureHeader,
    proxyAuth.ipHeader,
    // With role_mapping the groups decide the role an answer shows.
    proxyAuth.groupsHeader,
    proxyAuth.assertion?.header
  ]
  return { "cache-control": "no-store", vary: names.filter((name) => name !== undefined).join(", ") }
}

/**
 * One request through authenticate (which counts, times and logs itself), its answers marked
 * as depending on who asked: the API routes and the pages share it.
 */
export const requestAuthentication = (authenticator: Authenticator, proxyAuth: ProxyAuthConfig) => {
  const markIdentityDependent = setOnNodeResponse(identityHeaders(proxyAuth))
  return (request: HttpServerRequest.HttpServerRequest) => {
    markIdentityDependent(request)
    return authenticator.authenticate(requestFactsOf(request))
  }
}

/**
 * The routes of an API contract (Headtower's, or an embedding backend's): `route` for those
 * anyone may call, `authenticated.route(group, endpoint, handler)` for signed-in users:
 * authenticate decides before the body is read, and the handler receives what it established
 * (the user, the Headscale credentials, the client IP) as its second argument. A handler that
 * takes the user has no other way to be served: `route` passes none, and the compiler refuses
 * it there (test/http/authenticated-routes.test.ts). Passed, not provided:
 * `Effect.provideService` would cost each request a fiber-ref `locally` (~15 µs,
 * docs/performance.md). `requiring(capability).route` also checks the user's role. Every
 * answer carries `identityHeaders` (apiRoutes.ts: `answerHeaders`).
 * The contract's groups declare `AuthenticationFailure` (and `Forbidden`) among their errors,
 * so each refusal is answered with its own status.
 */
export const apiAuthentication = <ApiId extends string, Groups extends HttpApiGroup.HttpApiGroup.Any, ApiError, ApiR>(
  api: HttpApi.HttpApi<ApiId, Groups, ApiError, ApiR>
) =>
  Effect.gen(function* () {
    const authenticator = yield* Authenticator
    const answerHeaders = identityHeaders((yield* Settings).server.proxyAuth)
    const authenticate = (request: HttpServerRequest.HttpServerRequest) =>
      authenticator.authenticate(requestFactsOf(request))
    const guard = capabilityCheck(yield* UserRepository)
    const router = yield* apiRouter(api)
    /**
     * Routes for signed-in users whose role has `capability` (permissions.ts), judged on the
     * role the store holds now: anyone else is refused 403 Forbidden before the handler runs.
     */
    const requiring = (capability: Capability) => {
      const check = guard(capability)
      return router.admitted<Authenticated, AuthenticationError | Forbidden>(
        { decide: (request) => Effect.flatMap(authenticate(request), check) },
        answerHeaders
      )
    }
    return {
      route: router.route,
      authenticated: router.admitted<Authenticated, AuthenticationError>(
        {
          decide: authenticate,
          now: (request, now) => authenticator.authenticateNow(requestFactsOf(request), now)
        },
        answerHeaders
      ),
      requiring
    }
  })

/** Headtower's own API routes (above). */
export const headtowerApi = apiAuthentication(HeadtowerApi)

/** Headtower's own API routes for signed-in users (`authenticated.route`, above). */
export const authenticatedApi = Effect.map(headtowerApi, (api) => api.authenticated)

/** The signed-in user of the request, for a plain route's handler to read (`authenticatedRoute`). */
export class CurrentUser extends Context.Tag("headtower/CurrentUser")<CurrentUser, Authenticated>() {}

/** A refusal of authenticate as the API answers it: `{ _tag, message }` with the error's status. */
const authenticationRefusal = (error: AuthenticationError) =>
  HttpServerResponse.unsafeJson({ _tag: error._tag, message: error.message }, { status: statusOf(error) })

/**
 * A plain router route for signed-in users, for a host that does not describe its routes as an
 * `HttpApi` contract: authenticate decides first (a refusal is answered as the API's are and the
 * handler never runs), then the body is read within the route's limit as the API's are (JSON, on
 * the methods that take one), and `handler` reads the user from `CurrentUser`. Providing it costs
 * a fiber-ref `locally` per request (~15 µs), which `apiAuthentication`'s routes avoid.
 */
export const authenticatedRoute = <E, R>(
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
  path: HttpRouter.PathInput,
  handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
) =>
  HttpLayerRouter.use((router) =>
    Effect.gen(function* () {
      const authenticate = requestAuthentication(yield* Authenticator, (yield* Settings).server.proxyAuth)
      yield* router.add(method, path, (request) =>
        Effect.matchEffect(authenticate(request), {
          onFailure: (error) => Effect.succeed(authenticationRefusal(error)),
          onSuccess: (user) =>
            Effect.matchEffect(boundedBody(request), {
              onFailure: (refusal) => Effect.succeed(refusalResponse(refusal)),
              onSuccess: (bounded) =>
                handler.pipe(
                  Effect.provideService(CurrentUser, user),
                  Effect.provideService(HttpServerRequest.HttpServerRequest, bounded)
                )
            })
        })
      )
    })
  )
