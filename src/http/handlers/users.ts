import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect } from "effect"
import type { UserId } from "../../domain/User.js"
import { UserCache } from "../../services/UserCache.js"
import { Settings } from "../../services/Settings.js"
import { UserRepository } from "../../services/UserRepository.js"
import { canManageUsers } from "../../domain/permissions.js"
import { headtowerApi } from "../Authentication.js"
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
    const api = yield* headtowerApi
    const users = yield* UserRepository
    const cache = yield* UserCache
    const roleMapping = (yield* Settings).server.proxyAuth.roleMapping !== undefined
    const changeUsers = roleCheck(users)(canManageUsers, "change users")
    return [
      api.requiring("read_users").route("users", "list", ({ urlParams }) =>
        users.list(urlParams).pipe(
          Effect.tap(({ next }) => (next === undefined ? Effect.void : linkNext(urlParams.limit, next))),
          Effect.map(({ users }) => users)
        )
      ),
      // The role is judged after the body's limit, so an oversized body is a 413 for anyone signed in.
      api.authenticated.route("users", "update", ({ path, payload }, signedIn) =>
        Effect.gen(function* () {
          const current = yield* changeUsers(signedIn)
          const actor = { userId: current.user.id, identity: current.user.identity, clientIp: current.clientIp }
          const id = path.id
          const before = yield* users.get(id)
          return yield* Effect.gen(function* () {
            let user = before
            if (payload.role !== undefined && payload.role !== user.role) {
              user = yield* users.setRole(id, payload.role, actor, roleMapping)
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
      api.requiring("read_users").route("users", "audit", ({ urlParams }) => users.audit(urlParams.limit ?? 100))
    ]
  })
)
