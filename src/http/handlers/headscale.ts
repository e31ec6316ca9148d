import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { Effect } from "effect"
import { canViewUsers } from "../../domain/permissions.js"
import { HeadscaleClient } from "../../services/HeadscaleClient.js"
import { UserRepository } from "../../services/UserRepository.js"
import { authenticatedApi } from "../Authentication.js"
import { roleCheck } from "./roles.js"

/**
 * Headscale's lists, fetched with the credentials authenticate returned for this request. They
 * are the whole tailnet's users and nodes (emails, keys, addresses), read with the operator's
 * API key: owners and admins only, like the Users page.
 */
export const HeadscaleRoutes = HttpLayerRouter.addAll(
  Effect.gen(function* () {
    const authenticated = yield* authenticatedApi
    const headscale = yield* HeadscaleClient
    const inventory = roleCheck(yield* UserRepository)(canViewUsers, "read Headscale's users and nodes")
    return [
      authenticated.route("headscale", "users", (_, current) =>
        Effect.flatMap(inventory(current), ({ credentials }) => headscale.listUsers(credentials)).pipe(
          Effect.map((users) => ({ users }))
        )
      ),
      authenticated.route("headscale", "nodes", (_, current) =>
        Effect.flatMap(inventory(current), ({ credentials }) => headscale.listNodes(credentials)).pipe(
          Effect.map((nodes) => ({ nodes }))
        )
      )
    ]
  })
)
