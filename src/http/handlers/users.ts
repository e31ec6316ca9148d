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

/** What a listing was asked for, apart from its cursor: every link repeats it. */
interface ListingQuery {
  readonly limit?: number | undefined
  readonly q?: string | undefined
  readonly role?: string | undefined
}

/**
 * The pages on either side, as RFC 8288 `Link` values (GitHub's and Gitea's listings do the
 * same), each repeating the search and filter; none when there is neither.
 */
const linkPages = (
  asked: ListingQuery,
  page: { readonly next: UserId | undefined; readonly prev: UserId | undefined }
) => {
  const link = (cursor: "after" | "before", id: UserId, rel: string) => {
    const query = new URLSearchParams({
      ...(asked.limit === undefined ? {} : { limit: String(asked.limit) }),
      [cursor]: id,
      ...(asked.q === undefined || asked.q === "" ? {} : { q: asked.q }),
      ...(asked.role === undefined ? {} : { role: asked.role })
    })
    return `</api/users?${query}>; rel="${rel}"`
  }
  const links = [
    ...(page.next === undefined ? [] : [link("after", page.next, "next")]),
    ...(page.prev === undefined ? [] : [link("before", page.prev, "prev")])
  ]
  return links.length === 0
    ? Effect.void
    : HttpApp.appendPreResponseHandler((_request, response) =>
        Effect.succeed(HttpServerResponse.setHeader(response, "link", links.join(", ")))
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
          Effect.tap((page) => linkPages(urlParams, page)),
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
