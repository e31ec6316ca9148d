import type * as HttpBody from "@effect/platform/HttpBody"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect, type ParseResult, Schema } from "effect"
import { EDGE_HEADERS } from "./edge.js"

/**
 * How many answers of one endpoint are kept, made whole, for the values they answer. Bounded so
 * that answering every one of 100,000 users does not keep 100,000 answers (bench: RSS).
 */
const KEPT_PER_ENDPOINT = 1024

/** A value a handler may hand out again unchanged: a class instance (a Schema class) or a frozen object. */
const shared = (value: unknown): value is object =>
  typeof value === "object" &&
  value !== null &&
  !Array.isArray(value) &&
  (Object.isFrozen(value) || Object.getPrototypeOf(value) !== Object.prototype)

/** The contract's schema refused the value, or JSON cannot write it (a bigint, a cycle). */
type Failure = ParseResult.ParseError | HttpBody.HttpBodyError

/** One endpoint's success answers (`successAnswers`). */
export interface SuccessAnswers {
  /**
   * The answer made for `value` before, if one is kept: such a value is a success (only
   * successes are kept), so a route answers it without checking what it is first.
   */
  readonly kept: (value: unknown) => Effect.Effect<HttpServerResponse.HttpServerResponse> | undefined
  /** `value`'s answer: the one kept for it, or made now (and kept when `value` is shared). */
  readonly answer: (value: unknown) => Effect.Effect<HttpServerResponse.HttpServerResponse, Failure>
}

/**
 * An endpoint's success answers: the value encoded with the contract's success schema, as JSON,
 * with the status the contract gives it and the route's `answerHeaders`. A value the handler
 * hands out again (the signed-in user the cache holds, a frozen constant) gets the answer made
 * for it before, by identity: encoding, JSON text and the response with the edge's headers cost
 * ~20 µs per request (docs/performance.md), and answers and those values are immutable. The
 * oldest kept answer makes room for a new one.
 */
export const successAnswers = (
  schema: Schema.Schema<unknown, unknown>,
  status: number,
  answerHeaders: Readonly<Record<string, string>> = {}
): SuccessAnswers => {
  const encode = Schema.encodeEither(schema)
  const headers = { ...EDGE_HEADERS, ...answerHeaders }
  // The effect that answers, not only the response: an effect is a value, run as often as asked.
  const kept = new Map<unknown, Effect.Effect<HttpServerResponse.HttpServerResponse>>()
  const make = (value: unknown): Effect.Effect<HttpServerResponse.HttpServerResponse, Failure> => {
    const encoded = encode(value)
    if (encoded._tag === "Left") return Effect.fail(encoded.left)
    return HttpServerResponse.json(encoded.right, { status, headers })
  }
  const answer = (value: unknown): Effect.Effect<HttpServerResponse.HttpServerResponse, Failure> => {
    if (!shared(value)) return make(value)
    const answered = kept.get(value)
    if (answered !== undefined) return answered
    return Effect.tap(make(value), (made) => {
      if (kept.size >= KEPT_PER_ENDPOINT) kept.delete(kept.keys().next().value!)
      kept.set(value, Effect.succeed(made))
    })
  }
  return { kept: (value) => kept.get(value), answer }
}
