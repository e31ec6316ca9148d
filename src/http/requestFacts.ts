import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type { IncomingMessage } from "node:http"
import type { HeaderLookup, RequestFacts } from "../domain/RequestFacts.js"
import { clientCertificateOf } from "./tls.js"

/**
 * Every value of header `name` (lower case) in the order received, read from Node's raw header
 * list: a repeated header stays visible as two values (Node's `headers` object would comma-join
 * them, or keep only the first of some), and nothing is copied for headers nobody asks for.
 * The same answer as `headersDistinct[name]`, which lowers each field name the same way, without
 * building that object per request (docs/performance.md).
 */
const rawHeaderLookup = (raw: ReadonlyArray<string>): HeaderLookup => ({
  get: (name) => {
    let values: Array<string> | undefined
    for (let i = 0; i < raw.length; i += 2) {
      const field = raw[i]!
      if (field.length === name.length && field.toLowerCase() === name) (values ??= []).push(raw[i + 1]!)
    }
    return values
  }
})

/**
 * The facts authenticate judges, taken from Node's own message: its raw headers, and the peer
 * is the socket's own address — not `request.remoteAddress`, which middleware can override. A
 * request not backed by Node has neither, so it gets no peer and fails closed.
 */
export const requestFactsOf = (request: HttpServerRequest.HttpServerRequest): RequestFacts => {
  let message: IncomingMessage | undefined
  try {
    message = NodeHttpServerRequest.toIncomingMessage(request)
  } catch {
    message = undefined
  }
  if (message?.rawHeaders === undefined) return { peer: undefined, headers: new Map() }
  return {
    peer: message.socket.remoteAddress,
    clientCertificate: clientCertificateOf(message.socket),
    headers: rawHeaderLookup(message.rawHeaders)
  }
}
