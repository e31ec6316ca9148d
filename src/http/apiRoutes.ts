import type * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import type * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import { HttpApiDecodeError } from "@effect/platform/HttpApiError"
import type * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Clock, Context, DefaultServices, Effect, FiberRef, ParseResult, Schema } from "effect"
import type * as Types from "effect/Types"
import type { RequestBodyRefusal } from "./Api.js"
import { setOnNodeResponse } from "./answers.js"
import { boundedBody } from "./requestBody.js"
import { successAnswers } from "./successAnswers.js"

/*
 * The API contract (Api.ts) served as plain router routes. `HttpApiBuilder` served the same
 * contract at ~35 µs more per request even without authentication (per endpoint it merges
 * contexts and provides each middleware's service, each a fiber-ref `locally`; one run of both,
 * docs/performance.md): here each endpoint decodes its parameters and body and encodes its
 * answer with the contract's own schemas, and every failure is encoded by HttpApiBuilder's own
 * error encoder, so statuses and bodies are the ones HttpApi answers.
 */

type Endpoint<
  Groups extends HttpApiGroup.HttpApiGroup.Any,
  GroupName extends string,
  Name extends string
> = HttpApiEndpoint.HttpApiEndpoint.WithName<HttpApiGroup.HttpApiGroup.EndpointsWithName<Groups, GroupName>, Name>

/**
 * The handler of endpoint `Name` of group `GroupName`, typed by the contract as
 * `HttpApiBuilder.handler` types it, and given what the route's admission hands it (`Args`:
 * nothing, or the signed-in user).
 */
export type EndpointHandler<
  Groups extends HttpApiGroup.HttpApiGroup.Any,
  ApiError,
  GroupName extends string,
  Name extends string,
  Args extends ReadonlyArray<unknown>,
  R
> = (
  request: Types.Simplify<HttpApiEndpoint.HttpApiEndpoint.Request<Endpoint<Groups, GroupName, Name>>>,
  ...args: Args
) => Effect.Effect<
  HttpApiEndpoint.HttpApiEndpoint.Success<Endpoint<Groups, GroupName, Name>> | HttpServerResponse.HttpServerResponse,
  | HttpApiEndpoint.HttpApiEndpoint.Error<Endpoint<Groups, GroupName, Name>>
  | ApiError
  | HttpApiGroup.HttpApiGroup.ErrorWithName<Groups, GroupName>,
  R
>

/** Every error endpoint `Name` of group `GroupName` answers: its own, its group's and the API's. */
type DeclaredErrors<
  Groups extends HttpApiGroup.HttpApiGroup.Any,
  ApiError,
  GroupName extends string,
  Name extends string
> =
  | HttpApiEndpoint.HttpApiEndpoint.Error<Endpoint<Groups, GroupName, Name>>
  | ApiError
  | HttpApiGroup.HttpApiGroup.ErrorWithName<Groups, GroupName>

/**
 * `unknown` when the contract declares every refusal `E` a route answers before its handler
 * runs; otherwise an object naming the ones it omits, which no endpoint's name is, so serving
 * the route does not compile (test/http/undeclared-refusals.test.ts). Without it the encoder would
 * not know those refusals, and each would be answered 500.
 */
type Declares<E, Declared> = [Exclude<E, Declared>] extends [never]
  ? unknown
  : { readonly "the contract does not declare": Exclude<E, Declared> }

/** What any route may refuse before its handler: the body (requestBody.ts). */
type BodyRefusal = typeof RequestBodyRefusal.Type

/**
 * How a route admits a request before its body is read: `decide` decides, and hands the handler
 * what it established (the signed-in user). `now`, when given, is the same decision for when it
 * needs no effect (a cached user), given the clock's time: undefined leaves it to `decide`. It
 * saves the admitted request the runtime steps of an effect (docs/performance.md).
 */
export interface Admission<A, E> {
  readonly decide: (request: HttpServerRequest.HttpServerRequest) => Effect.Effect<A, E>
  readonly now?: (request: HttpServerRequest.HttpServerRequest, now: number) => A | undefined
}

/**
 * Headers every answer of a route carries (an authenticated route's `Cache-Control` and `Vary`):
 * made into its success answers once (successAnswers.ts), set on Node's response for any other
 * answer (a refusal, a failure, a response the handler made).
 */
export type AnswerHeaders = Readonly<Record<string, string>>

/**
 * Every failure of an API route as the contract's response (`{ _tag, message }` with its
 * status, a decode error with its issues); anything the contract does not name (a defect)
 * stays a failure, which the server answers 500 without a body.
 */
type ApiErrors = <E, R>(
  effect: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
) => Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>

/**
 * The routes of `api`: `route` serves an endpoint anyone may call, `admitted(admission).route`
 * one whose handler takes what the admission establishes. A handler that takes the signed-in
 * user therefore cannot be given to `route`: the compiler refuses it
 * (test/http/authenticated-routes.test.ts).
 */
export const apiRouter = <ApiId extends string, Groups extends HttpApiGroup.HttpApiGroup.Any, ApiError, ApiR>(
  api: HttpApi.HttpApi<ApiId, Groups, ApiError, ApiR>
) =>
  // The encoder keeps the context it was built in and needs nothing per request.
  Effect.map(HttpApiBuilder.buildMiddleware(api), (encode) => {
    const errors = encode as unknown as ApiErrors
    const serve = (
      groupName: string,
      name: string,
      admission: Admission<unknown, unknown> | undefined,
      handler: (request: unknown, admitted: unknown) => Effect.Effect<unknown, unknown, unknown>,
      answerHeaders?: AnswerHeaders
    ): HttpLayerRouter.Route<unknown, unknown> => {
      const endpoint = (api as unknown as HttpApi.HttpApi.AnyWithProps).groups[groupName]!.endpoints[name]!
      return HttpLayerRouter.route(
        endpoint.method as "GET" | "PATCH",
        endpoint.path,
        errors(endpointEffect(endpoint, admission, handler, answerHeaders))
      )
    }
    const route = <
      const GroupName extends HttpApiGroup.HttpApiGroup.Name<Groups>,
      const Name extends HttpApiGroup.HttpApiGroup.EndpointsWithName<Groups, GroupName>["name"],
      R
    >(
      groupName: GroupName,
      name: Name & Declares<BodyRefusal, DeclaredErrors<Groups, ApiError, GroupName, Name>>,
      handler: EndpointHandler<Groups, ApiError, GroupName, Name, [], R>
    ) => serve(groupName, name, undefined, handler as never) as HttpLayerRouter.Route<unknown, R>
    const admitted = <A, E>(admission: Admission<A, E>, answerHeaders?: AnswerHeaders) => ({
      route: <
        const GroupName extends HttpApiGroup.HttpApiGroup.Name<Groups>,
        const Name extends HttpApiGroup.HttpApiGroup.EndpointsWithName<Groups, GroupName>["name"],
        R
      >(
        groupName: GroupName,
        name: Name & Declares<BodyRefusal | E, DeclaredErrors<Groups, ApiError, GroupName, Name>>,
        handler: EndpointHandler<Groups, ApiError, GroupName, Name, [A], R>
      ) =>
        serve(
          groupName,
          name,
          admission as Admission<unknown, unknown>,
          handler as never,
          answerHeaders
        ) as HttpLayerRouter.Route<unknown, R>
    })
    return { route, admitted }
  })

/**
 * One endpoint's request → response: admitted, its body read within its limit, path, query
 * and body decoded, the handler's answer encoded; failing with the admission's, the body's,
 * the handler's or a decode error.
 */
const endpointEffect = (
  endpoint: HttpApiEndpoint.HttpApiEndpoint.AnyWithProps,
  admission: Admission<unknown, unknown> | undefined,
  handler: (request: unknown, admitted: unknown) => Effect.Effect<unknown, unknown, unknown>,
  answerHeaders?: AnswerHeaders
): Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, unknown> => {
  const decodePath = endpoint.pathSchema._tag === "Some" ? Schema.decodeUnknown(endpoint.pathSchema.value) : undefined
  const decodeQuery =
    endpoint.urlParamsSchema._tag === "Some" ? Schema.decodeUnknown(endpoint.urlParamsSchema.value) : undefined
  const decodePayload =
    endpoint.payloadSchema._tag === "Some" ? Schema.decodeUnknown(endpoint.payloadSchema.value) : undefined
  // Synchronously: the contract's success schemas need no services.
  const success = successAnswers(
    endpoint.successSchema as Schema.Schema<unknown, unknown>,
    HttpApiSchema.getStatusSuccess(endpoint.successSchema),
    answerHeaders
  )
  // A success answer carries answerHeaders already; any other answer gets them on Node's response.
  const markOther = answerHeaders === undefined ? () => {} : setOnNodeResponse(answerHeaders)
  const respond = (
    httpRequest: HttpServerRequest.HttpServerRequest,
    value: unknown
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, unknown> => {
    // A value answered before (the cached user, a constant) needs no check of what it is.
    const kept = success.kept(value)
    if (kept !== undefined) return kept
    if (!HttpServerResponse.isServerResponse(value)) return success.answer(value)
    markOther(httpRequest)
    return Effect.succeed(value)
  }
  const decodeAndHandle = (
    context: Context.Context<never>,
    httpRequest: HttpServerRequest.HttpServerRequest,
    admitted: unknown
  ) => {
    const request: Record<string, unknown> = { request: httpRequest }
    if (decodePath === undefined && decodeQuery === undefined && decodePayload === undefined) {
      return Effect.flatMap(handler(request, admitted), (value) => respond(httpRequest, value))
    }
    return Effect.gen(function* () {
      if (decodePath !== undefined) {
        request.path = yield* decodePath(Context.unsafeGet(context, HttpLayerRouter.RouteContext).params)
      }
      if (decodeQuery !== undefined) {
        request.urlParams = yield* decodeQuery(Context.unsafeGet(context, HttpServerRequest.ParsedSearchParams))
      }
      // boundedBody left only JSON bodies within the limit to the methods that take one.
      if (decodePayload !== undefined) request.payload = yield* decodePayload(yield* Effect.orDie(httpRequest.json))
      return yield* Effect.flatMap(handler(request, admitted), (value) => respond(httpRequest, value))
    })
  }
  const admitNow = admission?.now
  // One runtime step for the request's context and, when the admission can decide at once, the time.
  return Effect.withFiberRuntime((fiber) => {
    const context = fiber.getFiberRef(FiberRef.currentContext) as Context.Context<never>
    const httpRequest = Context.unsafeGet(context, HttpServerRequest.HttpServerRequest)
    // What the admission established is the handler's second argument (a public handler gets none and takes none).
    const answer = (admitted: unknown) =>
      Effect.flatMap(boundedBody(httpRequest), (bounded) => decodeAndHandle(context, bounded, admitted))
    const finish = (answered: Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, unknown>) =>
      answered.pipe(
        Effect.catchIf(ParseResult.isParseError, HttpApiDecodeError.refailParseError),
        Effect.tapErrorCause(() => Effect.sync(() => markOther(httpRequest)))
      )
    if (admission === undefined) return finish(answer(undefined))
    let admittedNow: unknown
    if (admitNow !== undefined) {
      try {
        const clock = Context.get(fiber.getFiberRef(DefaultServices.currentServices), Clock.Clock)
        admittedNow = admitNow(httpRequest, clock.unsafeCurrentTimeMillis())
      } catch (defect) {
        // As a throw inside an effect would be: a defect, its answer marked like any other.
        return finish(Effect.die(defect))
      }
    }
    return finish(
      admittedNow !== undefined ? answer(admittedNow) : Effect.flatMap(admission.decide(httpRequest), answer)
    )
  })
}
