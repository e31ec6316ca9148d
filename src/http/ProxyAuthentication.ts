import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { Effect, Layer } from "effect"
import { AuthenticationFailure } from "../domain/errors.js"
import type { Capability } from "../domain/permissions.js"
import { Authenticator } from "../services/Authenticator.js"
import { Settings } from "../services/Settings.js"
import { UserRepository } from "../services/UserRepository.js"
import { RequestBodyRefusal } from "./Api.js"
import { CurrentUser, requestAuthentication } from "./Authentication.js"
import { capabilityCheck } from "./handlers/roles.js"
import { boundedBody } from "./requestBody.js"

/*
 * Proxy authentication for a host that serves its contract with `HttpApiBuilder` groups rather
 * than through `apiAuthentication`'s routes. The same judgement: the middleware runs
 * `authenticate` (requestAuthentication, as every other route does) before the endpoint decodes
 * its request. The price is HttpApiBuilder's per-endpoint path and one `provideService` per
 * request for `CurrentUser` (docs/performance.md), and another for the bounded body.
 */

/**
 * `.middleware(ProxyAuthentication)` on a group or endpoint: authenticate's closed union joins
 * its errors (each answered `{ _tag, message }` with its status) and its handlers read the
 * signed-in user from `CurrentUser`.
 */
export class ProxyAuthentication extends HttpApiMiddleware.Tag<ProxyAuthentication>()("headtower/ProxyAuthentication", {
  provides: CurrentUser,
  failure: AuthenticationFailure
}) {}

/** The middleware's implementation, on the Authenticator and Settings of `ProxyAuthLive` (or a test's). */
export const ProxyAuthenticationLive = Layer.effect(
  ProxyAuthentication,
  Effect.gen(function* () {
    const authenticate = requestAuthentication(yield* Authenticator, (yield* Settings).server.proxyAuth)
    return ProxyAuthentication.of(Effect.flatMap(HttpServerRequest.HttpServerRequest, authenticate))
  })
)

/**
 * The request body within the route's limit, as every other route reads it (requestBody.ts):
 * HttpApiBuilder would read whatever it is sent. Added to a group *before* ProxyAuthentication
 * (`.middleware(RequestBodyLimit).middleware(ProxyAuthentication)`: the last added runs first),
 * so a stranger's body is never read; refused `PayloadTooLarge`, `UnsupportedMediaType` or
 * `MalformedBody`.
 */
export class RequestBodyLimit extends HttpApiMiddleware.Tag<RequestBodyLimit>()("headtower/RequestBodyLimit", {
  provides: HttpServerRequest.HttpServerRequest,
  failure: RequestBodyRefusal
}) {}

export const RequestBodyLimitLive = Layer.succeed(
  RequestBodyLimit,
  RequestBodyLimit.of(Effect.flatMap(HttpServerRequest.HttpServerRequest, boundedBody))
)

/**
 * A handler's guard under `ProxyAuthentication`: fails 403 `Forbidden` unless the signed-in
 * user's role, as the store holds it now, has `capability`; succeeds with that user. Yield it
 * first, so the handler does nothing for anyone else (its endpoint declares `Forbidden`).
 */
export const requireCapability = (capability: Capability) =>
  Effect.flatMap(Effect.all([CurrentUser, UserRepository]), ([current, users]) =>
    capabilityCheck(users)(capability)(current)
  )
