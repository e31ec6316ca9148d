import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import { Schema } from "effect"

/*
 * Why a call to Headscale failed, as our own clients see it. Headscale is our upstream, so
 * its failures are gateway errors (502/504), never 401: our caller's credentials were fine.
 * Messages name the route at most; never the API key, the Headscale URL or raw upstream
 * bodies (those go to spans and logs).
 */

/** Headscale answered 401 (0.27+) or 500 `Unauthorized` (0.23–0.26) to our API key. */
export class HeadscaleUnauthorized extends Schema.TaggedError<HeadscaleUnauthorized>()(
  "HeadscaleUnauthorized",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 502 })
) {}

/** Connection refused or reset, or a 5xx, after the bounded retries. */
export class HeadscaleUnavailable extends Schema.TaggedError<HeadscaleUnavailable>()(
  "HeadscaleUnavailable",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 502 })
) {}

/** No usable answer within `headscale.timeout_ms`, retries included. */
export class HeadscaleTimeout extends Schema.TaggedError<HeadscaleTimeout>()(
  "HeadscaleTimeout",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 504 })
) {}

/** A body that is not the JSON we expect, or a status Headscale should not send us. */
export class HeadscaleBadResponse extends Schema.TaggedError<HeadscaleBadResponse>()(
  "HeadscaleBadResponse",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 502 })
) {}

export type HeadscaleError = HeadscaleUnauthorized | HeadscaleUnavailable | HeadscaleTimeout | HeadscaleBadResponse
