import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import { Schema, Struct } from "effect"
import { AuditEvent } from "../domain/AuditEvent.js"
import {
  AuthenticationFailure,
  Forbidden,
  LastOwner,
  MalformedBody,
  PayloadTooLarge,
  RoleManagedByGroups,
  UnsupportedMediaType,
  UserNotFound,
  UserStoreUnavailable
} from "../domain/errors.js"
import { ListNodesResponse, ListUsersResponse } from "../domain/Headscale.js"
import {
  HeadscaleBadResponse,
  HeadscaleTimeout,
  HeadscaleUnauthorized,
  HeadscaleUnavailable
} from "../domain/headscaleErrors.js"
import { Role, User, UserId, USERS_PAGE_MAX, USERS_QUERY_MAX } from "../domain/User.js"

/*
 * The HTTP contract, apart from its handlers so that clients and tests import it alone.
 * Every error body is `{ _tag, message }`.
 */

/**
 * What a request with a body can be refused with: the body is read within the route's limit
 * (src/http/limits.ts) only after authentication, so a stranger's is never read.
 */
export const RequestBodyRefusal = Schema.Union(PayloadTooLarge, UnsupportedMediaType, MalformedBody)

/** What `/api/me` shows of the signed-in user (`/api/users` shows the whole User). */
export const Me = Schema.Struct(Struct.pick(User.fields, "id", "identity", "email", "name", "picture", "role"))

/** Unknown fields are refused (400), not ignored: `{"disable": true}` must not answer 200 unchanged. */
export const UserPatch = Schema.Struct({
  role: Schema.optional(Role),
  disabled: Schema.optional(Schema.Boolean)
}).annotations({ parseOptions: { onExcessProperty: "error" } })

/**
 * A user id in a URL: 1 to 128 characters, none of them a control character. A 400 at the
 * edge rather than a store error (PostgreSQL cannot compare a string holding NUL: a 503).
 */
const UserIdParam = UserId.pipe(Schema.pattern(/^[^\u0000-\u001f\u007f]{1,128}$/))

/**
 * A search (`q`): at most USERS_QUERY_MAX characters and no control character, else a 400 at
 * the edge (a bounded pattern; PostgreSQL cannot compare a string holding NUL).
 */
const UsersQueryParam = Schema.String.pipe(
  Schema.pattern(new RegExp(`^[^\\u0000-\\u001f\\u007f]{0,${USERS_QUERY_MAX}}$`))
)

/** A `limit` query parameter: an integer from 1 to `max`. */
const pageLimit = (max: number) => Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, max))

export class MeGroup extends HttpApiGroup.make("me")
  .add(HttpApiEndpoint.get("me", "/api/me").addSuccess(Me))
  .addError(AuthenticationFailure) {}

export class UsersGroup extends HttpApiGroup.make("users")
  .add(
    // A page in creation order, optionally searched (`q`) and filtered (`role`); `Link` headers
    // (rel="next", rel="prev") name the pages on either side, with the same search and filter.
    HttpApiEndpoint.get("list", "/api/users")
      .setUrlParams(
        Schema.Struct({
          limit: Schema.optional(pageLimit(USERS_PAGE_MAX)),
          after: Schema.optional(UserIdParam),
          before: Schema.optional(UserIdParam),
          q: Schema.optional(UsersQueryParam),
          role: Schema.optional(Role)
        }).pipe(
          Schema.filter((params) => params.after === undefined || params.before === undefined, {
            message: () => "`after` and `before` cannot both be given"
          })
        )
      )
      .addSuccess(Schema.Array(User))
      .addError(Forbidden)
      .addError(UserNotFound)
  )
  .add(
    HttpApiEndpoint.patch("update", "/api/users/:id")
      .setPath(Schema.Struct({ id: UserIdParam }))
      .setPayload(UserPatch)
      .addSuccess(User)
      .addError(Forbidden)
      .addError(UserNotFound)
      .addError(LastOwner)
      .addError(RoleManagedByGroups)
  )
  .add(
    HttpApiEndpoint.get("audit", "/api/audit")
      .setUrlParams(Schema.Struct({ limit: Schema.optional(pageLimit(1000)) }))
      .addSuccess(Schema.Array(AuditEvent))
      .addError(Forbidden)
  )
  .addError(UserStoreUnavailable)
  .addError(AuthenticationFailure) {}

export class HeadscaleGroup extends HttpApiGroup.make("headscale")
  .add(HttpApiEndpoint.get("users", "/api/headscale/users").addSuccess(ListUsersResponse))
  .add(HttpApiEndpoint.get("nodes", "/api/headscale/nodes").addSuccess(ListNodesResponse))
  .addError(HeadscaleUnauthorized)
  .addError(HeadscaleUnavailable)
  .addError(HeadscaleTimeout)
  .addError(HeadscaleBadResponse)
  .addError(Forbidden)
  .addError(UserStoreUnavailable)
  .addError(AuthenticationFailure) {}

/** Ready or not, nothing more: anyone may ask, so which dependency failed and why is logged instead. */
export const Readiness = Schema.Struct({ status: Schema.Literal("ready") })

export class NotReady extends Schema.TaggedError<NotReady>()(
  "NotReady",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 503 })
) {}

/** Liveness and readiness need no authentication: load balancers call them. */
export class HealthGroup extends HttpApiGroup.make("health")
  .add(HttpApiEndpoint.get("healthz", "/healthz").addSuccess(Schema.Struct({ status: Schema.Literal("ok") })))
  .add(HttpApiEndpoint.get("readyz", "/readyz").addSuccess(Readiness).addError(NotReady)) {}

/**
 * Every route takes its body within a limit; the groups that need the signed-in user answer
 * authenticate's failures too (src/http/Authentication.ts serves them behind it).
 */
export class HeadtowerApi extends HttpApi.make("headtower")
  .add(MeGroup)
  .add(UsersGroup)
  .add(HeadscaleGroup)
  .add(HealthGroup)
  .addError(RequestBodyRefusal) {}
