import { Effect } from "effect"
import { Forbidden } from "../../domain/errors.js"
import { can, type Capability } from "../../domain/permissions.js"
import type { Role } from "../../domain/User.js"
import type { Authenticated } from "../../services/Authenticator.js"
import type { UserRepository } from "../../services/UserRepository.js"

/**
 * Authorises the signed-in user on the role the store holds now, not the one authenticate returned: that one may come
 * from the login cache, up to sync_ttl_seconds old when another replica made the change, and a
 * demoted or disabled owner must not keep changing users meanwhile.
 */
export const roleCheck =
  (users: UserRepository) => (allowed: (role: Role) => boolean, what: string) => (current: Authenticated) =>
    Effect.gen(function* () {
      const forbidden = new Forbidden({ message: `your role may not ${what}` })
      const user = yield* users.get(current.user.id).pipe(Effect.catchTag("UserNotFound", () => Effect.fail(forbidden)))
      if (user.disabled || !allowed(user.role)) return yield* forbidden
      return { ...current, user }
    })

/** The guard of routes for users whose role has `capability` (permissions.ts), on the role the store holds now. */
export const capabilityCheck = (users: UserRepository) => (capability: Capability) =>
  roleCheck(users)((role) => can(role, capability), capability.replace("_", " "))
