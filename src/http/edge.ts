import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as Cookies from "@effect/platform/Cookies"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect } from "effect"
import type { ServerResponse } from "node:http"
import type { Socket } from "node:net"
import { changeAnswer } from "./answers.js"
import { MalformedBody, PayloadTooLarge, RequestHeadersTooLarge, UnsupportedMediaType } from "../domain/errors.js"
import { MAX_HEADER_BYTES, MAX_HEADER_LINES } from "./limits.js"

/*
 * The server's edge: what every request meets before any route judges it, and what every
 * response carries.
 */

/** The refusals the edge itself answers, each `{ _tag, message }` with its schema's status. */
export type EdgeRefusal = RequestHeadersTooLarge | PayloadTooLarge | UnsupportedMediaType | MalformedBody
const EDGE_REFUSALS = [RequestHeadersTooLarge, PayloadTooLarge, UnsupportedMediaType, MalformedBody] as const
const STATUS = new Map<string, number>(EDGE_REFUSALS.map((error) => [error._tag, HttpApiSchema.getStatusError(error)]))

const body = (error: EdgeRefusal) => JSON.stringify({ _tag: error._tag, message: error.message })

/** The refusal as a response. */
export const refusalResponse = (error: EdgeRefusal) =>
  HttpServerResponse.text(body(error), { status: STATUS.get(error._tag) ?? 400, contentType: "application/json" })

/** Logs the refusal as one structured line (peer and tag; no header values) and answers it. */
export const refuse = (error: EdgeRefusal, peer: string | undefined) =>
  Effect.logWarning("request refused").pipe(
    Effect.annotateLogs({ reason: error._tag, peer: peer ?? "unknown", detail: error.message }),
    Effect.as(refusalResponse(error))
  )

const tooManyLines = new RequestHeadersTooLarge({
  message: `a request may carry at most ${MAX_HEADER_LINES} header lines; it was refused whole`
})

/** Node's `rawHeaders` of the request: every line kept, as name/value pairs. */
const headerLineCount = (request: HttpServerRequest.HttpServerRequest): number =>
  NodeHttpServerRequest.toIncomingMessage(request).rawHeaders.length / 2

/** Longest string an error body keeps: a decode error may quote what was sent. */
const EXCERPT_MAX = 100
/** Error bodies up to this size are sent as they are; no error of Headtower's own is longer. */
const ERROR_BODY_MAX = 1024

const excerpt = (value: unknown): unknown =>
  typeof value === "string"
    ? value.length > EXCERPT_MAX
      ? `${value.slice(0, EXCERPT_MAX)}…`
      : value
    : Array.isArray(value)
      ? value.slice(0, 10).map(excerpt)
      : typeof value === "object" && value !== null
        ? Object.fromEntries(Object.entries(value).map(([key, field]) => [excerpt(key), excerpt(field)]))
        : value

/**
 * A JSON error body longer than ERROR_BODY_MAX (a decode error quoting a long key or value)
 * keeps a short excerpt of each string: an answer never echoes the request back at length.
 * (The HTML error pages hold only Headtower's own messages.)
 */
const boundedErrorBody = (response: HttpServerResponse.HttpServerResponse) => {
  const content = response.body
  if (response.status < 400 || content._tag !== "Uint8Array" || content.body.length <= ERROR_BODY_MAX) return response
  if (!content.contentType.startsWith("application/json")) return response
  let json: unknown
  try {
    json = JSON.parse(new TextDecoder().decode(content.body))
  } catch {
    return HttpServerResponse.setBody(response, HttpBody.empty)
  }
  return HttpServerResponse.setBody(response, HttpBody.text(JSON.stringify(excerpt(json)), content.contentType))
}

/**
 * What every response says, errors and 404s included: `nosniff`, and a short error body.
 * (After a 413 the connection stays open: Node reads what is left of the refused body and
 * discards it, within REQUEST_TIMEOUT_MS, so a proxy can reuse the connection and the client
 * reads the answer instead of a reset.)
 */
const edgeHeaders = (response: HttpServerResponse.HttpServerResponse) =>
  // An answer made with EDGE_HEADERS (successAnswers.ts) already says it: no copy of it is made.
  response.status < 400 && response.headers["x-content-type-options"] === "nosniff"
    ? response
    : HttpServerResponse.setHeader(boundedErrorBody(response), "x-content-type-options", "nosniff")

/** The headers the edge adds to every answer, for answers made once and kept (successAnswers.ts). */
export const EDGE_HEADERS = { "x-content-type-options": "nosniff" } as const

const withEdgeHeaders = changeAnswer(edgeHeaders)

/**
 * Writes an answer held in memory (no body, text, bytes) to Node's response at once, as the
 * platform would, without the platform's wait for Node's write callback: that wait resumed every
 * request's fiber once more (~15 µs of CPU per request, docs/performance.md) for nothing, since a
 * body in memory is handed to Node whole. The platform's handler then sees the response ended
 * and leaves it. Anything else (a stream, a cookie, a pre-response handler someone registered)
 * is left to the platform as before.
 */
const writeAnswer = (request: HttpServerRequest.HttpServerRequest, response: HttpServerResponse.HttpServerResponse) =>
  Effect.withFiberRuntime<HttpServerResponse.HttpServerResponse>((fiber) => {
    const node = NodeHttpServerRequest.toServerResponse(request) as ServerResponse | undefined
    const body = response.body
    const inMemory =
      body._tag === "Empty" ||
      body._tag === "Uint8Array" ||
      (body._tag === "Raw" && (typeof body.body === "string" || body.body instanceof Uint8Array))
    if (
      node === undefined ||
      node.writableEnded ||
      !inMemory ||
      !Cookies.isEmpty(response.cookies) ||
      fiber.getFiberRef(HttpApp.currentPreResponseHandlers)._tag === "Some"
    ) {
      return Effect.succeed(response)
    }
    node.writeHead(response.status, response.headers)
    if (body._tag === "Empty") node.end()
    else node.end(body.body as string | Uint8Array)
    return Effect.succeed(response)
  })

/** How long a closing connection keeps reading what the client still sends (nginx's `lingering_time` idea). */
const LINGER_MS = 5_000

/**
 * Closes a connection the way nginx's lingering close does: half-close after the last answer,
 * then read on and discard until the client closes its side or LINGER_MS pass. Destroyed at
 * once instead, with request bytes still arriving, the kernel would reset the connection, and
 * the client (a proxy) could lose the answer to the reset and report a 502 or a hang-up.
 */
const lingeringEnd = (socket: Socket, lastWords?: string) => {
  if (lastWords === undefined) socket.end()
  else socket.end(lastWords)
  const timer = setTimeout(() => socket.destroy(), LINGER_MS).unref()
  socket.once("end", () => {
    clearTimeout(timer)
    socket.destroy()
  })
  socket.resume()
}

/**
 * When an answer comes before the request's body was read (a refusal: 403, 413, 431…) and the
 * connection then closes (the client said `Connection: close`, as nginx does upstream), Node
 * would destroy the socket as soon as the answer is written. `destroySoon` is what Node's
 * server calls to close a connection after its last answer: here it lingers instead.
 */
const lingerOnClose = (request: HttpServerRequest.HttpServerRequest) => {
  const message = NodeHttpServerRequest.toIncomingMessage(request)
  if (message.headers["content-length"] === undefined && message.headers["transfer-encoding"] === undefined) return
  const socket = message.socket as Socket & { destroySoon?: () => void }
  socket.destroySoon = () => lingeringEnd(socket)
}

/**
 * The router reads `;` and `#` in a path as the end of the path (`/metrics;x` is `/metrics`);
 * no route of Headtower's has either, so such a path names no route, whatever a proxy's
 * path rules made of it.
 */
const delimitedPath = (url: string): boolean => /[;#]/.test(url.split("?", 1)[0]!)

/**
 * Global middleware, before routing: a path the router would cut short names no route; a
 * request whose header lines reached the parser's cap is refused as a whole (the cap is
 * MAX_HEADER_LINES + 1, so one over is visible).
 */
export const EdgeLive = HttpLayerRouter.middleware(
  (app: Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, HttpServerRequest.HttpServerRequest>) =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      lingerOnClose(request)
      const answer = delimitedPath(request.url)
        ? Effect.succeed(HttpServerResponse.empty({ status: 404 }))
        : headerLineCount(request) > MAX_HEADER_LINES
          ? refuse(tooManyLines, NodeHttpServerRequest.toIncomingMessage(request).socket.remoteAddress)
          : app
      return Effect.flatMap(withEdgeHeaders(answer), (response) => writeAnswer(request, response))
    }),
  { global: true }
)

const tooManyBytes = new RequestHeadersTooLarge({
  message: `a request's header lines may hold at most ${MAX_HEADER_BYTES} bytes in all; it was refused whole`
})

const rawResponse = (status: string, error?: EdgeRefusal) => {
  const content = error === undefined ? "" : body(error)
  const type = error === undefined ? "" : "Content-Type: application/json\r\nX-Content-Type-Options: nosniff\r\n"
  return `HTTP/1.1 ${status}\r\n${type}Content-Length: ${Buffer.byteLength(
    content
  )}\r\nConnection: close\r\n\r\n${content}`
}

/**
 * Node's `clientError`, for requests its parser refuses before any route: headers past
 * MAX_HEADER_BYTES become the same typed 431 as too many lines (and are logged); the others
 * are answered as Node would (400 without a body, 408 for a request past its timeout).
 */
export const onClientError =
  (log: (error: EdgeRefusal, peer: string | undefined) => void) =>
  (error: NodeJS.ErrnoException, socket: Socket & { readonly _httpMessage?: ServerResponse | null }) => {
    // Nothing more can be said on a socket that is gone or already carries part of an answer
    // (the test Node's own default handler makes, on the response it attaches to the socket).
    if (!socket.writable || socket._httpMessage?.headersSent === true || error.code === "ECONNRESET") {
      socket.destroy()
      return
    }
    // The parser stopped at the error: what the client still sends is discarded, not parsed again.
    socket.removeAllListeners("data")
    if (error.code === "HPE_HEADER_OVERFLOW") {
      log(tooManyBytes, socket.remoteAddress)
      lingeringEnd(socket, rawResponse("431 Request Header Fields Too Large", tooManyBytes))
    } else if (error.code === "ERR_HTTP_REQUEST_TIMEOUT") {
      lingeringEnd(socket, rawResponse("408 Request Timeout"))
    } else {
      lingeringEnd(socket, rawResponse("400 Bad Request"))
    }
  }
