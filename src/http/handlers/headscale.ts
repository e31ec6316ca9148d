import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { HeadscaleClient } from "../../services/HeadscaleClient.js"
import { CurrentUser, HeadtowerApi } from "../Api.js"

/** Headscale's lists, fetched with the credentials authenticate returned for this request. */
export const HeadscaleLive = HttpApiBuilder.group(HeadtowerApi, "headscale", (handlers) =>
  Effect.gen(function* () {
    const headscale = yield* HeadscaleClient
    return handlers
      .handle("users", () =>
        Effect.flatMap(CurrentUser, ({ credentials }) => headscale.listUsers(credentials)).pipe(
          Effect.map((users) => ({ users }))
        )
      )
      .handle("nodes", () =>
        Effect.flatMap(CurrentUser, ({ credentials }) => headscale.listNodes(credentials)).pipe(
          Effect.map((nodes) => ({ nodes }))
        )
      )
  })
)
