import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { Effect } from "effect"
import { canViewUsers } from "../../domain/permissions.js"
import { HeadscaleClient } from "../../services/HeadscaleClient.js"
import { UserRepository } from "../../services/UserRepository.js"
import { HeadtowerApi } from "../Api.js"
import { roleCheck } from "./roles.js"

/**
 * Headscale's lists, fetched with the credentials authenticate returned for this request. They
 * are the whole tailnet's users and nodes (emails, keys, addresses), read with the operator's
 * API key: owners and admins only, like the Users page.
 */
export const HeadscaleLive = HttpApiBuilder.group(HeadtowerApi, "headscale", (handlers) =>
  Effect.gen(function* () {
    const headscale = yield* HeadscaleClient
    const inventory = roleCheck(yield* UserRepository)(canViewUsers, "read Headscale's users and nodes")
    return handlers
      .handle("users", () =>
        Effect.flatMap(inventory, ({ credentials }) => headscale.listUsers(credentials)).pipe(
          Effect.map((users) => ({ users }))
        )
      )
      .handle("nodes", () =>
        Effect.flatMap(inventory, ({ credentials }) => headscale.listNodes(credentials)).pipe(
          Effect.map((nodes) => ({ nodes }))
        )
      )
  })
)
