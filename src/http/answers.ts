import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as HttpApp from "@effect/platform/HttpApp"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect } from "effect"
import type { ServerResponse } from "node:http"

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

/**
 * `headers` set on Node's response to `request` before any answer is made, so every answer
 * carries them, whoever makes it (a refusal, an answer, the server's 500): Node adds them to the
 * head it writes. A request not backed by Node has no such response (authenticate refuses it
 * anyway, requestFacts.ts).
 */
export const setOnNodeResponse = (headers: Readonly<Record<string, string>>) => {
  const entries = Object.entries(headers)
  return (request: HttpServerRequest.HttpServerRequest): void => {
    const response = NodeHttpServerRequest.toServerResponse(request) as ServerResponse | undefined
    if (response === undefined || response.headersSent) return
    for (const [name, value] of entries) response.setHeader(name, value)
  }
}
