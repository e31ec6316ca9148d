import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import { Schema } from "effect"
import {
  AuthenticationFailure,
  Forbidden,
  HeadscaleBadResponse,
  HeadscaleTimeout,
  HeadscaleUnauthorized,
  HeadscaleUnavailable,
  Identity,
  RequestBodyRefusal
} from "headtower"

/*
 * The contract of a small backend of its own (a nodes page of a Headscale console): its routes
 * for signed-in users declare proxy authentication's refusals (and the capability guard's
 * Forbidden) among their errors, so each is answered with its own status.
 */

export const NodesPage = Schema.Struct({
  /** Who asked: the signed-in user's identity, as the proxy named them. */
  viewer: Identity,
  nodes: Schema.Array(Schema.Struct({ name: Schema.String, online: Schema.Boolean }))
})

export class NodesGroup extends HttpApiGroup.make("nodes")
  .add(HttpApiEndpoint.get("list", "/api/nodes").addSuccess(NodesPage))
  .addError(HeadscaleUnauthorized)
  .addError(HeadscaleUnavailable)
  .addError(HeadscaleTimeout)
  .addError(HeadscaleBadResponse)
  .addError(Forbidden)
  .addError(AuthenticationFailure) {}

export class HealthGroup extends HttpApiGroup.make("health").add(
  HttpApiEndpoint.get("healthz", "/healthz").addSuccess(Schema.Struct({ status: Schema.Literal("ok") }))
) {}

export class NodesApi extends HttpApi.make("nodes").add(NodesGroup).add(HealthGroup).addError(RequestBodyRefusal) {}
