import * as HttpApp from "@effect/platform/HttpApp"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect } from "effect"

/**
 * `change` applied to whatever `app` answers. An answer the app gives is changed directly;
 * when the app fails instead (no route: 404; a defect: 500), the server makes the answer and a
 * pre-response handler changes it. (A handler registered on every request costs a fiber-ref
 * update, an equality check that hashes the new closure, and garbage: docs/performance.md.)
 */
export const changeAnswer = (
  change: (response: HttpServerResponse.HttpServerResponse) => HttpServerResponse.HttpServerResponse
) => {
  const whenFailed = HttpApp.appendPreResponseHandler((_request, response) => Effect.succeed(change(response)))
  return <E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
    Effect.matchCauseEffect(app, {
      onFailure: (cause) => Effect.zipRight(whenFailed, Effect.failCause(cause)),
      onSuccess: (response) => Effect.succeed(change(response))
    })
}
