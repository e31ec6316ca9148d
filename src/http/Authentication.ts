import { HttpServerRequest } from "@effect/platform"
import { Effect, Layer } from "effect"
import { Authenticator } from "../services/Authenticator.js"
import { observeAuthentication } from "../services/Metrics.js"
import { Authentication } from "./Api.js"
import { requestFactsOf } from "./requestFacts.js"

/** The middleware every `/api` route passes through: authenticate, then provide CurrentUser. */
export const AuthenticationLive = Layer.effect(
  Authentication,
  Effect.gen(function* () {
    const authenticator = yield* Authenticator
    return Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
      observeAuthentication(authenticator.authenticate(requestFactsOf(request)))
    )
  })
)
