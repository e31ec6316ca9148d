import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type { IncomingMessage } from "node:http"
import type { RequestFacts } from "../domain/RequestFacts.js"
import { clientCertificateOf } from "./tls.js"

/**
 * The facts authenticate judges, taken from Node's own message: `headersDistinct` keeps every
 * value of a repeated header (the `headers` object would comma-join them), and the peer is the
 * socket's own address — not `request.remoteAddress`, which middleware can override. A request
 * not backed by Node has neither, so it gets no peer and fails closed.
 */
export const requestFactsOf = (request: HttpServerRequest.HttpServerRequest): RequestFacts => {
  let message: IncomingMessage | undefined
  try {
    message = NodeHttpServerRequest.toIncomingMessage(request)
  } catch {
    message = undefined
  }
  if (message?.headersDistinct === undefined) return { peer: undefined, headers: new Map() }
  const distinct = message.headersDistinct
  return {
    peer: message.socket.remoteAddress,
    clientCertificate: clientCertificateOf(message.socket),
    // Own keys only, whatever the object's prototype: never "constructor" or "__proto__" by inheritance.
    headers: { get: (name) => (Object.hasOwn(distinct, name) ? distinct[name] : undefined) }
  }
}
