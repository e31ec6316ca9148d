import type { Server } from "node:http"
import { type CidrList, parsePeerIp } from "../domain/Address.js"

/*
 * Incoming trace context is honoured only from peers trusted as proxies (trusted_proxy_cidrs):
 * anyone else's `traceparent` would make a refused request join a trace they chose. The
 * platform's HTTP tracer reads the parent span from the request headers before any middleware
 * of ours runs (it wraps them all), so the headers are removed as the request arrives, before
 * the platform sees it; the request then starts a trace of its own.
 */
const TRACE_CONTEXT_HEADERS = [
  "traceparent",
  "tracestate",
  "b3",
  "x-b3-traceid",
  "x-b3-spanid",
  "x-b3-parentspanid",
  "x-b3-sampled",
  "x-b3-flags"
] as const

/** Makes `server` drop trace-context headers unless the socket peer is in `trusted`. */
export const honourTraceContextOnlyFrom = (server: Server, trusted: CidrList): void => {
  // Prepended, so it runs before the platform's own "request" listener.
  server.prependListener("request", (request) => {
    const peer = request.socket.remoteAddress === undefined ? undefined : parsePeerIp(request.socket.remoteAddress)
    if (peer !== undefined && trusted.match(peer) !== undefined) return
    for (const name of TRACE_CONTEXT_HEADERS) delete request.headers[name]
  })
}
