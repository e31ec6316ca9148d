import { Effect, Option } from "effect"
import type { UserStoreUnavailable } from "../domain/errors.js"
import type { Groups } from "../domain/IdentityHeaders.js"
import { decideRole, mappedChange, type RoleRule } from "../domain/roleMapping.js"
import type { Identity, Profile, User, UserId } from "../domain/User.js"
import { Settings } from "./Settings.js"
import { type Spans, spans } from "./spans.js"
import { UserRepository } from "./UserRepository.js"
import type { LastSeen } from "./users/lastSeen.js"

/*
 * Sign-in without touching the database (Grafana's auth-proxy `sync_ttl`). A known user whose
 * profile headers are unchanged is served from memory for `sync_ttl_seconds`; past that, one
 * read confirms them; only a new user or a changed profile writes. `last_seen` is collected
 * here and written in batches, never per request.
 *
 * Staleness: a role or disabled change made through this process's API drops the entry at
 * once (`invalidate`), and a sign-in that read the store before such a change never stores
 * what it read (the generation check). With PostgreSQL and several replicas, a change made
 * on ANOTHER replica reaches this replica only when the entry expires, i.e. after at most
 * `sync_ttl_seconds`; set it to 0 where that delay is unacceptable.
 *
 * With role_mapping on, an entry also remembers the groups it was signed in with: a request
 * whose groups differ misses (its role is decided again at once), one without the groups
 * header (groups unknown, the role stays) hits.
 */

/** Bounds memory whatever the number of users; least recently used entries go first. */
export const MAX_ENTRIES = 10_000
const FLUSH_EVERY = "5 seconds"

interface Entry {
  readonly user: User
  readonly expiresAt: number
  /** The groups the user was signed in with (groupsKey), undefined when unknown. */
  readonly groups: string | undefined
  /** When the entry last moved to the end of the order, counted in moves. */
  touched: number
}

/** Groups as one comparable string: a group never holds a newline (the reader refuses control characters). */
const groupsKey = (groups: Groups): string | undefined => groups?.join("\n")

/** Equal to the stored user's, the profile the headers carry means nothing to write. */
const sameProfile = (user: User, profile: Profile) =>
  user.email === profile.email && user.name === profile.name && user.picture === profile.picture

/**
 * The users remembered per identity, least recently used first (a Map iterates in insertion
 * order). A recalled entry moves to the end only when it is not in the newer half already (it
 * moved fewer than size/2 moves ago): the busy users' requests then cost a lookup, not a delete
 * and an insert each, and eviction still takes the entry that moved longest ago (an approximate
 * least-recently-used order).
 */
const memory = (ttlMs: number) => {
  const entries = new Map<Identity, Entry>()
  let moves = 0
  return {
    remember: (user: User, groups: string | undefined, now: number) => {
      entries.delete(user.identity)
      entries.set(user.identity, { user, expiresAt: now + ttlMs, groups, touched: ++moves })
      if (entries.size > MAX_ENTRIES) entries.delete(entries.keys().next().value!)
    },
    /** The user remembered for these headers, now recently used (above); undefined when unknown, expired or changed. */
    recall: (profile: Profile, groups: string | undefined, now: number): User | undefined => {
      const entry = entries.get(profile.identity)
      if (entry === undefined || entry.expiresAt <= now || !sameProfile(entry.user, profile)) return undefined
      if (groups !== undefined && groups !== entry.groups) return undefined
      if (moves - entry.touched > entries.size >> 1) {
        entries.delete(profile.identity)
        entries.set(profile.identity, entry)
        entry.touched = ++moves
      }
      return entry.user
    },
    forget: (identity: Identity) => entries.delete(identity)
  }
}

/** Last sign-in time per user since the last flush (newest wins), written in batches. */
const lastSeenBatch = (users: UserRepository, { method }: Spans) => {
  let pending = new Map<UserId, number>()

  /** Writes the collected last-seen times; on failure they are kept for the next attempt. */
  const flushLastSeen = method("UserCache.flushLastSeen")(() =>
    Effect.suspend(() => {
      const batch = pending
      pending = new Map()
      const list: Array<LastSeen> = Array.from(batch, ([id, at]) => ({ id, at: new Date(at) }))
      return users.touchLastSeen(list).pipe(
        Effect.tapError(() =>
          Effect.sync(() => {
            for (const [id, at] of batch) if ((pending.get(id) ?? 0) < at) pending.set(id, at)
          })
        )
      )
    })
  )

  // Nothing pending, no span. Uninterruptible: shutdown waits for a batch in flight instead of losing it.
  const flushQuietly = Effect.suspend(() => (pending.size === 0 ? Effect.void : flushLastSeen())).pipe(
    Effect.catchAll((error) => Effect.logWarning("last_seen batch not written", error)),
    Effect.uninterruptible
  )

  return { seen: (id: UserId, now: number) => void pending.set(id, now), flushLastSeen, flushQuietly }
}

/** What a sign-in brings besides the profile: the client, and the proxy's groups (undefined: unknown). */
export interface SignIn {
  readonly clientIp: string
  readonly groups?: Groups
}

/**
 * A cache miss: one read, and a write only for a new user, a changed profile or a role the
 * groups change; `seen` notes a known user's sign-in for the next last_seen batch (a write
 * has set it already).
 */
const load = (
  users: UserRepository,
  { annotate }: Spans,
  seen: (id: UserId) => void,
  profile: Profile,
  context: { readonly clientIp: string },
  mapping: ReadonlyArray<RoleRule> | undefined,
  groups: Groups
) =>
  Effect.gen(function* () {
    const known = yield* users.findByIdentity(profile.identity)
    const mapped = decideRole(mapping, groups)
    // A disabled user is refused: nothing about them is written, not even last_seen.
    if (
      Option.isSome(known) &&
      (known.value.disabled || (sameProfile(known.value, profile) && mappedChange(known.value, mapped) === undefined))
    ) {
      if (!known.value.disabled) seen(known.value.id)
      yield* annotate(() => ({ "user_cache.outcome": "read" }))
      return known.value
    }
    const { user } = yield* users.provision(profile, { clientIp: context.clientIp, mapped })
    yield* annotate(() => ({ "user_cache.outcome": "provisioned" }))
    return user
  })

export class UserCache extends Effect.Service<UserCache>()("headtower/UserCache", {
  scoped: Effect.gen(function* () {
    const tracing = yield* spans
    const { annotated, method } = tracing
    const users = yield* UserRepository
    const { roleMapping, syncTtlSeconds } = (yield* Settings).server.proxyAuth
    const ttlMs = syncTtlSeconds * 1000
    // Without a mapping the groups decide nothing, so they neither key the cache nor reach the store.
    const groupsOf = (groups: Groups): Groups => (roleMapping === undefined ? undefined : groups)
    const remembered = memory(ttlMs)
    const { flushLastSeen, flushQuietly, seen } = lastSeenBatch(users, tracing)
    /** Bumped by every invalidation: a sign-in that started before one must not store its read. */
    let generation = 0

    /** A miss: read (and maybe write) the store, and remember what was read unless a change overtook it. */
    const signInFromStore = (profile: Profile, context: SignIn, now: number) => {
      const startedAt = generation
      const groups = groupsOf(context.groups)
      return Effect.tap(
        load(users, tracing, (id) => seen(id, now), profile, context, roleMapping, groups),
        (user) => {
          if (ttlMs > 0 && startedAt === generation) remembered.remember(user, groupsKey(groups), now)
        }
      )
    }

    /**
     * The remembered user for these headers, without an effect: a hit counts as a sign-in (most
     * recently used, last_seen pending). Undefined when unknown, expired, or the profile changed.
     */
    const recall = (profile: Profile, groups: Groups, now: number): User | undefined => {
      const user = remembered.recall(profile, groupsKey(groupsOf(groups)), now)
      if (user !== undefined && !user.disabled) seen(user.id, now)
      return user
    }

    /** The user for these headers, creating or refreshing them in the store only when needed. */
    const signIn = method("UserCache.signIn")(
      (profile: Profile, context: SignIn): Effect.Effect<User, UserStoreUnavailable> =>
        Effect.clockWith((clock) => {
          const now = clock.unsafeCurrentTimeMillis()
          const user = recall(profile, context.groups, now)
          return user === undefined
            ? signInFromStore(profile, context, now)
            : annotated(Effect.succeed(user), () => ({ "user_cache.outcome": "hit" }))
        })
    )

    /** Forget a user whose role or disabled flag changed: their next request reads the store. */
    const invalidate = method("UserCache.invalidate")((identity: Identity) =>
      Effect.sync(() => {
        generation++
        remembered.forget(identity)
      })
    )

    // Finalizers run last-added first: the timer stops, then the final batch is written.
    yield* Effect.addFinalizer(() => flushQuietly)
    yield* Effect.sleep(FLUSH_EVERY).pipe(Effect.zipRight(flushQuietly), Effect.forever, Effect.forkScoped)

    return { signIn, recall, invalidate, flushLastSeen } as const
  })
}) {}
