import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect } from "effect"
import { canManageUsers, canViewUsers } from "../../domain/permissions.js"
import type { UserId } from "../../domain/User.js"
import { UserCache } from "../../services/UserCache.js"
import { UserRepository } from "../../services/UserRepository.js"
import { authenticatedApi } from "../Authentication.js"
import { roleCheck } from "./roles.js"

/** The next page, as RFC 8288 `Link` (GitHub's and Gitea's listings do the same). */
const linkNext = (limit: number | undefined, after: UserId) => {
  const query = new URLSearchParams({ ...(limit === undefined ? {} : { limit: String(limit) }), after })
  return HttpApp.appendPreResponseHandler((_request, response) =>
    Effect.succeed(HttpServerResponse.setHeader(response, "link", `</api/users?${query}>; rel="next"`))
  )
}

export const UsersRoutes = HttpLayerRouter.addAll(
  Effect.gen(function* () {
    const authenticated = yield* authenticatedApi
    const users = yield* UserRepository
    const cache = yield* UserCache
    const requireRole = roleCheck(users)
    return [
      authenticated.route("users", "list", ({ urlParams }, current) =>
        requireRole(
          canViewUsers,
          "list users"
        )(current).pipe(
          Effect.zipRight(users.list(urlParams)),
          Effect.tap(({ next }) => (next === undefined ? Effect.void : linkNext(urlParams.limit, next))),
          Effect.map(({ users }) => users)
        )
      ),
      authenticated.route("users", "update", ({ path, payload }, signedIn) =>
        Effect.gen(function* () {
          const current = yield* requireRole(canManageUsers, "change users")(signedIn)
          const actor = { userId: current.user.id, identity: current.user.identity, clientIp: current.clientIp }
          const id = path.id
          const before = yield* users.get(id)
          return yield* Effect.gen(function* () {
            let user = before
            if (payload.role !== undefined && payload.role !== user.role) {
              user = yield* users.setRole(id, payload.role, actor)
            }
            if (payload.disabled !== undefined && payload.disabled !== user.disabled) {
              user = yield* users.setDisabled(id, payload.disabled, actor)
            }
            return user
          }).pipe(
            // Whatever the outcome (even an interrupted request after the commit), the user's
            // next request reads the store: a demotion or disable takes effect at once.
            Effect.ensuring(cache.invalidate(before.identity))
          )
        })
      ),
      authenticated.route("users", "audit", ({ urlParams }, current) =>
        requireRole(
          canViewUsers,
          "read the audit log"
        )(current).pipe(Effect.zipRight(users.audit(urlParams.limit ?? 100)))
      )
    ]
  })
)
