import { Effect } from "effect"
import { Forbidden } from "../../domain/errors.js"
import type { Role } from "../../domain/User.js"
import type { UserRepository } from "../../services/UserRepository.js"
import { CurrentUser } from "../Api.js"

/**
 * Authorises on the role the store holds now, not the one in CurrentUser: that one may come
 * from the login cache, up to sync_ttl_seconds old when another replica made the change, and a
 * demoted or disabled owner must not keep changing users meanwhile.
 */
export const roleCheck = (users: UserRepository) => (allowed: (role: Role) => boolean, what: string) =>
  Effect.gen(function* () {
    const current = yield* CurrentUser
    const forbidden = new Forbidden({ message: `your role may not ${what}` })
    const user = yield* users.get(current.user.id).pipe(Effect.catchTag("UserNotFound", () => Effect.fail(forbidden)))
    if (user.disabled || !allowed(user.role)) return yield* forbidden
    return { ...current, user }
  })
