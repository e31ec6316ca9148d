import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { Effect, Layer } from "effect"
import { Authenticator } from "../services/Authenticator.js"
import { Authentication } from "./Api.js"
import { requestFactsOf } from "./requestFacts.js"

/** One request through authenticate (which counts and times itself): the API middleware and the pages share it. */
export const authenticateRequest = (authenticator: Authenticator) => (request: HttpServerRequest.HttpServerRequest) =>
  authenticator.authenticate(requestFactsOf(request))

/** The middleware every `/api` route passes through: authenticate, then provide CurrentUser. */
export const AuthenticationLive = Layer.effect(
  Authentication,
  Effect.map(Authenticator, (authenticator) => Effect.flatMap(HttpServerRequest.HttpServerRequest, authenticateRequest(authenticator)))
)
