import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect, Option } from "effect"
import type { IncomingMessage, ServerResponse } from "node:http"
import { MalformedBody, PayloadTooLarge, UnsupportedMediaType } from "../domain/errors.js"
import { refuse } from "./edge.js"
import { bodyLimitOf } from "./limits.js"

/*
 * Request bodies, bounded: each route's limit (limits.ts) is checked against Content-Length
 * before a byte is read, and against the bytes as they stream in (chunked bodies), so no more
 * than the limit is ever held. Callers run this after authentication: a stranger's body is
 * never read at all.
 */

const tooLarge = (limit: number) =>
  new PayloadTooLarge({
    message: limit === 0 ? "this route takes no request body" : `this route takes a body of at most ${limit} bytes`
  })

const notJson = new UnsupportedMediaType({ message: "state-changing routes take only application/json" })
const malformed = new MalformedBody({ message: "the body is not valid UTF-8 JSON" })

/** `application/json`, with or without parameters (`; charset=utf-8`), in any letter case. */
const isJson = (contentType: string | undefined) =>
  contentType !== undefined && contentType.split(";")[0]!.trim().toLowerCase() === "application/json"

/**
 * Reads the body, failing as soon as more than `limit` bytes arrived. The rest is left to Node
 * to discard, but only once the refusal is written: until then the request stays paused, so the
 * client's sending stalls on TCP's window however long the answer takes (a few ms, longer on a
 * busy server), and no CPU goes to discarding a refused body before the refusal is out.
 */
const readAtMost = (message: IncomingMessage, response: ServerResponse, limit: number) =>
  Effect.async<Buffer, PayloadTooLarge | MalformedBody>((resume) => {
    const chunks: Array<Buffer> = []
    let size = 0
    const stop = () => {
      message.off("data", onData)
      message.off("end", onEnd)
      message.off("error", onError)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size <= limit) return void chunks.push(chunk)
      stop()
      message.pause()
      const discard = () => message.resume()
      response.once("finish", discard)
      response.once("close", discard)
      resume(Effect.fail(tooLarge(limit)))
    }
    const onEnd = () => {
      stop()
      resume(Effect.succeed(Buffer.concat(chunks)))
    }
    // An aborted upload: the client is gone, and nothing it sent is judged.
    const onError = () => {
      stop()
      resume(Effect.fail(malformed))
    }
    message.on("data", onData)
    message.on("end", onEnd)
    message.on("error", onError)
    return Effect.sync(stop)
  })

const utf8 = new TextDecoder("utf-8", { fatal: true })

/** The JSON text of the body, or MalformedBody: the platform would make a parse failure a 500. */
const jsonText = (bytes: Buffer) =>
  Effect.try({
    try: () => {
      const text = utf8.decode(bytes)
      JSON.parse(text)
      return text
    },
    catch: () => malformed
  })

/** The same request, its body already read: the platform's readers answer from `text`. */
const withText = (request: HttpServerRequest.HttpServerRequest, text: string): HttpServerRequest.HttpServerRequest =>
  Object.create(request, { text: { value: Effect.succeed(text) } })

/**
 * The request with its body read within the route's limit: unchanged when the route takes no
 * body (a body sent anyway is refused), else holding the JSON text, which is all the HTTP API's
 * decoder then reads.
 */
export const boundedBody = (
  request: HttpServerRequest.HttpServerRequest
): Effect.Effect<HttpServerRequest.HttpServerRequest, PayloadTooLarge | UnsupportedMediaType | MalformedBody> =>
  Effect.suspend(
    (): Effect.Effect<HttpServerRequest.HttpServerRequest, PayloadTooLarge | UnsupportedMediaType | MalformedBody> => {
      const message = NodeHttpServerRequest.toIncomingMessage(request)
      const limit = bodyLimitOf(request.method)
      const declared = message.headers["content-length"]
      if (declared !== undefined && Number(declared) > limit) return Effect.fail(tooLarge(limit))
      // A chunked body announces no length: a route that takes none refuses it unread.
      if (limit === 0) {
        return message.headers["transfer-encoding"] === undefined ? Effect.succeed(request) : Effect.fail(tooLarge(0))
      }
      if (!isJson(message.headers["content-type"])) return Effect.fail(notJson)
      // The server leaves `Expect: 100-continue` to us (Server.ts): the client sends its body only now.
      const response = NodeHttpServerRequest.toServerResponse(request) as ServerResponse
      if (message.headers.expect?.toLowerCase() === "100-continue") response.writeContinue()
      return readAtMost(message, response, limit).pipe(
        Effect.flatMap(jsonText),
        Effect.map((text) => withText(request, text))
      )
    }
  )

/** A route outside the HTTP API that takes no body: its answer, unless a body came anyway (413). */
export const withoutBody = <E, R>(
  request: HttpServerRequest.HttpServerRequest,
  answer: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
) =>
  Effect.matchEffect(boundedBody(request), {
    onFailure: (error) => refuse(error, Option.getOrUndefined(request.remoteAddress)),
    onSuccess: () => answer
  })
