import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { Effect } from "effect"
import { HeadscaleClient } from "../../services/HeadscaleClient.js"
import { headtowerApi } from "../Authentication.js"

/**
 * Headscale's lists, fetched with the credentials authenticate returned for this request. They
 * are the whole tailnet's users and nodes (emails, keys, addresses), read with the operator's
 * API key: the roles with read_users and read_machines (of today's three, owners and admins,
 * like the Users page).
 */
export const HeadscaleRoutes = HttpLayerRouter.addAll(
  Effect.gen(function* () {
    const api = yield* headtowerApi
    const headscale = yield* HeadscaleClient
    return [
      api
        .requiring("read_users")
        .route("headscale", "users", (_, { credentials }) =>
          Effect.map(headscale.listUsers(credentials), (users) => ({ users }))
        ),
      api
        .requiring("read_machines")
        .route("headscale", "nodes", (_, { credentials }) =>
          Effect.map(headscale.listNodes(credentials), (nodes) => ({ nodes }))
        )
    ]
  })
)
