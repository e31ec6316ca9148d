import type { HttpServerRequest } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Option } from "effect"
import type { IncomingMessage } from "node:http"
import type { RequestFacts } from "../domain/RequestFacts.js"

/**
 * The facts authenticate judges, taken from Node's own message: `headersDistinct` keeps every
 * value of a repeated header (the `headers` object would comma-join them), and the peer is the
 * raw socket address. Requests not backed by Node (none in production) fall back to the
 * request's joined headers and remote address.
 */
export const requestFactsOf = (request: HttpServerRequest.HttpServerRequest): RequestFacts => {
  const peer = Option.getOrUndefined(request.remoteAddress)
  let message: IncomingMessage | undefined
  try {
    message = NodeHttpServerRequest.toIncomingMessage(request)
  } catch {
    message = undefined
  }
  if (message?.headersDistinct !== undefined) {
    return { peer, headers: new Map(Object.entries(message.headersDistinct) as Array<[string, Array<string>]>) }
  }
  return { peer, headers: new Map(Object.entries(request.headers).map(([k, v]) => [k, [v]])) }
}
