import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { Effect, Option, ParseResult, Schedule, Schema, Stream } from "effect"
import {
  type HeadscaleCredentials,
  HeadscaleHealth,
  ListNodesResponse,
  ListUsersResponse
} from "../domain/Headscale.js"
import {
  HeadscaleBadResponse,
  type HeadscaleError,
  HeadscaleTimeout,
  HeadscaleUnauthorized,
  HeadscaleUnavailable
} from "../domain/headscaleErrors.js"
import { countHeadscaleRequest } from "./Metrics.js"
import { Settings } from "./Settings.js"
import { spans } from "./spans.js"

/*
 * Time bound: every method gives up after `headscale.timeout_ms` in total — one deadline
 * around all attempts and backoff, so a caller (authenticate runs per request) never waits
 * longer than the configured value, however Headscale misbehaves.
 *
 * Retries: only GETs are made here (idempotent), retried at most RETRIES times, only when
 * Headscale was unreachable or answered 5xx. A rejected key or an undecodable body is not
 * transient, and retrying a slow server would only add load, so those fail at once.
 */
const RETRIES = 2
/** 100 ms then 200 ms (±20% jitter): under 400 ms of waiting, well inside a timeout. */
const retrySchedule = Schedule.exponential("100 millis").pipe(
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(RETRIES))
)

/** Headscale's `GET /api/v1/user` filters; it applies only the first set of name, email, id. */
export interface ListUsersFilter {
  readonly name?: string
  readonly email?: string
  readonly id?: string
}

/** Error bodies: grpc-gateway status (0.29) or RFC 7807 problem+json (0.30). */
const UpstreamErrorBody = Schema.parseJson(
  Schema.Union(
    Schema.Struct({ code: Schema.Number, message: Schema.String }),
    Schema.Struct({ status: Schema.Number, detail: Schema.String })
  )
)
const upstreamDetail = (body: string): string | undefined =>
  Schema.decodeUnknownOption(UpstreamErrorBody)(body).pipe(
    Option.map((error) => ("message" in error ? error.message : error.detail).slice(0, 200)),
    Option.getOrUndefined
  )

/*
 * Size bound: a body is read as a stream and cut off once it passes the bound (the socket is
 * then closed), so a huge or endless answer costs at most this much memory and fails with a
 * typed 502 — read whole, a 500 MiB answer ran the server out of heap. 16 MiB is several
 * thousand nodes; an error body is only logged, so it gets far less.
 */
export const MAX_BODY_BYTES = 16 * 1024 * 1024
const MAX_ERROR_BODY_BYTES = 16 * 1024

/** The body as text, or undefined once it passes `limit` bytes (declared or streamed). */
const boundedText = (response: HttpClientResponse.HttpClientResponse, limit: number) =>
  Effect.suspend(() => {
    const declared = Number(response.headers["content-length"] ?? "0")
    if (declared > limit) return Effect.succeed(undefined)
    const chunks: Array<Uint8Array> = []
    let size = 0
    return Stream.runForEachWhile(response.stream, (chunk) =>
      Effect.sync(() => {
        size += chunk.byteLength
        if (size > limit) return false
        chunks.push(chunk)
        return true
      })
    ).pipe(Effect.map(() => (size > limit ? undefined : Buffer.concat(chunks).toString("utf8"))))
  })

const unauthorized = () => new HeadscaleUnauthorized({ message: "Headscale rejected the configured API key" })

const transportFailure = (route: string, error: HttpClientError.HttpClientError) =>
  error._tag === "RequestError" && error.reason === "Transport"
    ? Effect.fail(new HeadscaleUnavailable({ message: `Headscale could not be reached (GET ${route})` }))
    : // A malformed base URL is a configuration bug the Settings service should have caught.
      Effect.die(error)

const tooLarge = (route: string) =>
  Effect.logWarning(`Headscale's answer to GET ${route} passed ${MAX_BODY_BYTES} bytes and was cut off`).pipe(
    Effect.zipRight(
      Effect.fail(new HeadscaleBadResponse({ message: `Headscale's answer was too large (GET ${route})` }))
    )
  )

const unreadable = (route: string, issue: string) =>
  Effect.logWarning("Headscale response did not decode").pipe(
    Effect.annotateLogs({ route, issue }),
    Effect.zipRight(
      Effect.fail(
        new HeadscaleBadResponse({ message: `Headscale sent a response that could not be read (GET ${route})` })
      )
    )
  )

/** A 2xx body: bounded, JSON, and what `schema` says it is. */
const decodeBody = <A, I>(
  route: string,
  schema: Schema.Schema<A, I>,
  response: HttpClientResponse.HttpClientResponse
) =>
  boundedText(response, MAX_BODY_BYTES).pipe(
    Effect.catchAll(() => unreadable(route, "the body could not be read")),
    Effect.flatMap((text): Effect.Effect<A, HeadscaleBadResponse> => {
      if (text === undefined) return tooLarge(route)
      let json: unknown
      try {
        json = JSON.parse(text)
      } catch {
        return unreadable(route, "not JSON")
      }
      return Schema.decodeUnknown(schema)(json).pipe(
        Effect.catchAll((error) => unreadable(route, ParseResult.TreeFormatter.formatErrorSync(error)))
      )
    })
  )

/** Turns one response into data or a typed error; the status alone decides, except for legacy 500s. */
const interpret = <A, I>(
  route: string,
  schema: Schema.Schema<A, I>,
  response: HttpClientResponse.HttpClientResponse
) => {
  const status = response.status
  if (status >= 200 && status < 300) return decodeBody(route, schema, response)
  // The 401 body is plain text `Unauthorized` (problem+json in 0.30): the status is enough.
  if (status === 401 || status === 403) return Effect.fail(unauthorized())
  return boundedText(response, MAX_ERROR_BODY_BYTES).pipe(
    Effect.orElseSucceed(() => undefined),
    Effect.flatMap((body = ""): Effect.Effect<never, HeadscaleError> => {
      // 0.23–0.26 answered a bad key with 500 and the same plain-text body.
      if (status >= 500 && body.trim() === "Unauthorized") return Effect.fail(unauthorized())
      // Headscale's own words (internal paths, fragments of what it was sent) are for the
      // operator's log and span; the error, which reaches the browser, names the status only.
      const detail = upstreamDetail(body)
      const message = `Headscale answered ${status} to GET ${route}`
      return Effect.logWarning(message).pipe(
        Effect.annotateLogs({ route, status, upstream_error: detail ?? "" }),
        Effect.zipRight(Effect.annotateCurrentSpan("headscale.upstream_error", detail ?? "")),
        Effect.zipRight(
          Effect.fail(status >= 500 ? new HeadscaleUnavailable({ message }) : new HeadscaleBadResponse({ message }))
        )
      )
    })
  )
}

/** One GET of `route`, retried and bounded in time as the top of this file says, decoded with `schema`. */
const getter =
  (http: HttpClient.HttpClient, baseUrl: string, timeoutMs: number) =>
  <A, I>(
    route: string,
    schema: Schema.Schema<A, I>,
    credentials: HeadscaleCredentials,
    urlParams: Record<string, string> = {}
  ): Effect.Effect<A, HeadscaleError> =>
    Effect.suspend(() => {
      let attempts = 0
      const request = HttpClientRequest.get(`${baseUrl}${route}`, { urlParams, acceptJson: true }).pipe(
        HttpClientRequest.bearerToken(credentials.apiKey)
      )
      const attempt = Effect.suspend(() => {
        attempts += 1
        return http.execute(request)
      }).pipe(
        Effect.catchAll((error) => transportFailure(route, error)),
        Effect.tap((response) => Effect.annotateCurrentSpan("http.response.status_code", response.status)),
        Effect.flatMap((response) => interpret(route, schema, response))
      )
      return attempt.pipe(
        Effect.retry({ schedule: retrySchedule, while: (error) => error._tag === "HeadscaleUnavailable" }),
        Effect.timeoutFail({
          duration: timeoutMs,
          onTimeout: () =>
            new HeadscaleTimeout({ message: `Headscale did not answer GET ${route} within ${timeoutMs} ms` })
        }),
        Effect.tapBoth({
          onFailure: (error) =>
            Effect.zipRight(
              Effect.annotateCurrentSpan({ "headscale.outcome": error._tag, "headscale.attempts": attempts }),
              countHeadscaleRequest(route, error._tag)
            ),
          onSuccess: () =>
            Effect.zipRight(
              Effect.annotateCurrentSpan({ "headscale.outcome": "ok", "headscale.attempts": attempts }),
              countHeadscaleRequest(route, "ok")
            )
        }),
        (effect) => Effect.annotateCurrentSpan("headscale.route", route).pipe(Effect.zipRight(effect))
      )
    })

export class HeadscaleClient extends Effect.Service<HeadscaleClient>()("headtower/HeadscaleClient", {
  effect: Effect.gen(function* () {
    const { method } = yield* spans
    const config = yield* Settings
    const http = yield* HttpClient.HttpClient

    const get = getter(http, config.headscale.url.replace(/\/+$/, ""), config.headscale.timeoutMs)

    const listUsers = method("HeadscaleClient.listUsers")((
      credentials: HeadscaleCredentials,
      filter: ListUsersFilter = {}
    ) => {
      // Only non-empty filters: Headscale treats `?name=` as no filter anyway.
      const params = Object.fromEntries(
        Object.entries(filter).filter(([, value]) => value !== undefined && value !== "")
      )
      return Effect.map(get("/api/v1/user", ListUsersResponse, credentials, params), ({ users }) => users)
    })

    const listNodes = method("HeadscaleClient.listNodes")((credentials: HeadscaleCredentials) =>
      Effect.map(get("/api/v1/node", ListNodesResponse, credentials), ({ nodes }) => nodes)
    )

    const health = method("HeadscaleClient.health")((credentials: HeadscaleCredentials) =>
      get("/api/v1/health", HeadscaleHealth, credentials)
    )

    return { listUsers, listNodes, health } as const
  }),
  // Settings and HttpClient come from the app: tests point Settings at a fake Headscale.
  dependencies: []
}) {}

/**
 * The HTTP client for HeadscaleClient.Default. Undici rather than FetchHttpClient: its Agent
 * belongs to this layer (sockets pooled per layer and closed when it is released, nothing on
 * Node's global fetch dispatcher), and Node's fetch is built on undici anyway.
 */
export const headscaleHttpClientLayer = NodeHttpClient.layerUndici
