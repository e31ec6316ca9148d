import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect, Layer } from "effect"
import type { ProxyAuthConfig } from "../domain/AppConfig.js"
import { Authenticator } from "../services/Authenticator.js"
import { Settings } from "../services/Settings.js"
import { Authentication, RequestBody } from "./Api.js"
import { boundedBody } from "./requestBody.js"
import { requestFactsOf } from "./requestFacts.js"

/**
 * What every answer of an authenticated route says to caches: it depends on who asked, and
 * who asked travels in request headers no shared cache keys on. `no-store` keeps it out of
 * every cache; `Vary` names those headers for any cache that would keep it anyway.
 */
const identityDependent = (proxyAuth: ProxyAuthConfig) => {
  const names = [
    proxyAuth.userHeader,
    proxyAuth.emailHeader,
    proxyAuth.nameHeader,
    proxyAuth.pictureHeader,
    proxyAuth.ipHeader,
    proxyAuth.assertion?.header
  ]
  const headers = { "cache-control": "no-store", vary: names.filter((name) => name !== undefined).join(", ") }
  return HttpApp.appendPreResponseHandler((_request, response) =>
    Effect.succeed(HttpServerResponse.setHeaders(response, headers))
  )
}

/** One request through authenticate (which counts and times itself): the API middleware and the pages share it. */
export const authenticateRequest = (authenticator: Authenticator, proxyAuth: ProxyAuthConfig) => {
  const markIdentityDependent = identityDependent(proxyAuth)
  return (request: HttpServerRequest.HttpServerRequest) =>
    Effect.zipRight(markIdentityDependent, authenticator.authenticate(requestFactsOf(request)))
}

/** The middleware every `/api` route passes through: authenticate, then provide CurrentUser. */
export const AuthenticationLive = Layer.effect(
  Authentication,
  Effect.gen(function* () {
    const authenticate = authenticateRequest(yield* Authenticator, (yield* Settings).server.proxyAuth)
    return Effect.flatMap(HttpServerRequest.HttpServerRequest, authenticate)
  })
)

/** Every API route's body, bounded (after Authentication on the routes that have it). */
export const RequestBodyLive = Layer.succeed(
  RequestBody,
  Effect.flatMap(HttpServerRequest.HttpServerRequest, boundedBody)
)
