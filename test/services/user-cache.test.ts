import { describe, expect, it } from "@effect/vitest"
import { Clock, Context, Deferred, Effect, Exit, Fiber, Layer, Scope, TestClock } from "effect"
import { Identity, type Profile, type User } from "../../src/domain/User.js"
import { DatabaseLive } from "../../src/services/Database.js"
import { MAX_ENTRIES, UserCache } from "../../src/services/UserCache.js"
import { UserRepository } from "../../src/services/UserRepository.js"
import type { LastSeen } from "../../src/services/users/lastSeen.js"
import { testConfigLayer } from "../../src/testing/config.js"

/*
 * UserCache over the real repository on an in-memory SQLite store, with every repository
 * call counted (a spy around the real service), so "no read" and "no write" are observed,
 * not inferred. Each test builds its own store and cache: state never leaks between tests.
 */

interface Calls {
  reads: number
  writes: number
  touched: Array<LastSeen>
  /** When set, the next read waits for it after reading (to hold a sign-in in flight). */
  holdNextRead: Deferred.Deferred<void> | undefined
}

const spiedRepository = (calls: Calls) =>
  Layer.effect(
    UserRepository,
    Effect.map(UserRepository, (real) =>
      UserRepository.make({
        ...real,
        findByIdentity: (identity) =>
          Effect.tap(real.findByIdentity(identity), () => {
            calls.reads++
            const hold = calls.holdNextRead
            calls.holdNextRead = undefined
            return hold === undefined ? Effect.void : Deferred.await(hold)
          }),
        provision: (profile, context) => Effect.tap(real.provision(profile, context), () => void calls.writes++),
        touchLastSeen: (entries) => Effect.tap(real.touchLastSeen(entries), () => void calls.touched.push(...entries))
      })
    )
  ).pipe(Layer.provide(UserRepository.Default))

/** Builds the cache (TTL 10 s unless given) for the test's scope; returns it, the real repository and the counters. */
const setup = (syncTtlSeconds = 10) =>
  Effect.gen(function* () {
    const calls: Calls = { reads: 0, writes: 0, touched: [], holdNextRead: undefined }
    const config = testConfigLayer({ syncTtlSeconds })
    const repository = spiedRepository(calls).pipe(Layer.provide(DatabaseLive), Layer.provide(config))
    const context = yield* Layer.build(UserCache.Default.pipe(Layer.provideMerge(repository), Layer.provide(config)))
    return { cache: Context.get(context, UserCache), repo: Context.get(context, UserRepository), calls }
  })

const profile = (name: string, extra: Partial<Omit<Profile, "identity">> = {}): Profile => ({
  identity: Identity.make(`proxy:${name}`),
  email: `${name}@example.test`,
  name: null,
  picture: null,
  ...extra
})
const ctx = { clientIp: "127.0.0.1" }
const actor = (user: User) => ({ userId: user.id, identity: user.identity, clientIp: "127.0.0.1" })

describe("UserCache", () => {
  it.scoped("a known user with unchanged headers is answered from memory: no read, no write", () =>
    Effect.gen(function* () {
      const { cache, calls } = yield* setup()
      const first = yield* cache.signIn(profile("alice"), ctx)
      const before = { reads: calls.reads, writes: calls.writes }
      const again = yield* cache.signIn(profile("alice"), ctx)
      expect(again.id).toBe(first.id)
      expect({ reads: calls.reads, writes: calls.writes }).toEqual(before)
    })
  )

  it.scoped("a known user whose entry expired is read once and not written", () =>
    Effect.gen(function* () {
      const { cache, calls } = yield* setup()
      yield* cache.signIn(profile("alice"), ctx)
      yield* TestClock.adjust("11 seconds")
      const before = { reads: calls.reads, writes: calls.writes }
      yield* cache.signIn(profile("alice"), ctx)
      expect({ reads: calls.reads - before.reads, writes: calls.writes - before.writes }).toEqual({
        reads: 1,
        writes: 0
      })
    })
  )

  it.scoped("sync_ttl_seconds 0 disables the cache: every sign-in reads, an unchanged one still writes nothing", () =>
    Effect.gen(function* () {
      const { cache, calls } = yield* setup(0)
      yield* cache.signIn(profile("alice"), ctx)
      const before = { reads: calls.reads, writes: calls.writes }
      yield* cache.signIn(profile("alice"), ctx)
      yield* cache.signIn(profile("alice"), ctx)
      expect({ reads: calls.reads - before.reads, writes: calls.writes - before.writes }).toEqual({
        reads: 2,
        writes: 0
      })
    })
  )

  it.scoped("changed profile headers are written at once and served afterwards", () =>
    Effect.gen(function* () {
      const { cache, calls } = yield* setup()
      yield* cache.signIn(profile("alice"), ctx)
      const writes = calls.writes
      const renamed = yield* cache.signIn(profile("alice", { name: "Alice B" }), ctx)
      expect(renamed.name).toBe("Alice B")
      expect(calls.writes).toBe(writes + 1)
      expect((yield* cache.signIn(profile("alice", { name: "Alice B" }), ctx)).name).toBe("Alice B")
      expect(calls.writes).toBe(writes + 1)
    })
  )

  it.scoped("after a role change and invalidate, the next sign-in sees the new role", () =>
    Effect.gen(function* () {
      const { cache, repo } = yield* setup()
      const owner = yield* cache.signIn(profile("owner"), ctx)
      const bob = yield* cache.signIn(profile("bob"), ctx)
      expect(bob.role).toBe("member")
      yield* repo.setRole(bob.id, "admin", actor(owner))
      yield* cache.invalidate(bob.identity)
      expect((yield* cache.signIn(profile("bob"), ctx)).role).toBe("admin")
      yield* repo.setRole(bob.id, "member", actor(owner))
      yield* cache.invalidate(bob.identity)
      expect((yield* cache.signIn(profile("bob"), ctx)).role).toBe("member")
    })
  )

  it.scoped("after a disable and invalidate, the next sign-in sees the user disabled", () =>
    Effect.gen(function* () {
      const { cache, repo } = yield* setup()
      const owner = yield* cache.signIn(profile("owner"), ctx)
      const bob = yield* cache.signIn(profile("bob"), ctx)
      yield* repo.setDisabled(bob.id, true, actor(owner))
      yield* cache.invalidate(bob.identity)
      expect((yield* cache.signIn(profile("bob"), ctx)).disabled).toBe(true)
    })
  )

  it.scoped("a sign-in that read the store before a change does not cache what it read", () =>
    Effect.gen(function* () {
      const { cache, repo, calls } = yield* setup()
      const owner = yield* cache.signIn(profile("owner"), ctx)
      const bob = yield* cache.signIn(profile("bob"), ctx)
      yield* cache.invalidate(bob.identity)
      // Bob's next sign-in reads "member", then is held until after the promotion commits.
      const hold = yield* Deferred.make<void>()
      calls.holdNextRead = hold
      const inFlight = yield* Effect.fork(cache.signIn(profile("bob"), ctx))
      while (calls.holdNextRead !== undefined) yield* Effect.yieldNow()
      yield* repo.setRole(bob.id, "admin", actor(owner))
      yield* cache.invalidate(bob.identity)
      yield* Deferred.succeed(hold, undefined)
      expect((yield* Fiber.join(inFlight)).role).toBe("member")
      expect((yield* cache.signIn(profile("bob"), ctx)).role).toBe("admin")
    })
  )

  it.scoped("a disabled user's refused sign-ins write nothing: no profile refresh, no last_seen", () =>
    Effect.gen(function* () {
      const { cache, repo, calls } = yield* setup()
      const owner = yield* cache.signIn(profile("owner"), ctx)
      const bob = yield* cache.signIn(profile("bob"), ctx)
      yield* repo.setDisabled(bob.id, true, actor(owner))
      yield* cache.invalidate(bob.identity)
      yield* cache.flushLastSeen()
      const before = { writes: calls.writes, touched: calls.touched.length }
      for (const extra of [{}, { email: "changed@example.test" }]) {
        expect((yield* cache.signIn(profile("bob", extra), ctx)).disabled).toBe(true)
      }
      yield* cache.flushLastSeen()
      expect({ writes: calls.writes, touched: calls.touched.length }).toEqual(before)
    })
  )

  it.scoped("last_seen is written in one batch by flushLastSeen, not per sign-in", () =>
    Effect.gen(function* () {
      const { cache, calls } = yield* setup()
      const alice = yield* cache.signIn(profile("alice"), ctx)
      for (let i = 0; i < 5; i++) yield* cache.signIn(profile("alice"), ctx)
      expect(calls.touched).toEqual([])
      yield* cache.flushLastSeen()
      expect(calls.touched.map((entry) => entry.id)).toEqual([alice.id])
      yield* cache.flushLastSeen()
      expect(calls.touched).toHaveLength(1)
    })
  )

  it.scoped("closing the cache writes the pending last_seen batch", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const { cache, calls } = yield* Scope.extend(setup(), scope)
      const alice = yield* cache.signIn(profile("alice"), ctx)
      yield* cache.signIn(profile("alice"), ctx)
      yield* Scope.close(scope, Exit.void)
      expect(calls.touched.map((entry) => entry.id)).toEqual([alice.id])
    })
  )

  it.scoped(
    "the cache never holds more than MAX_ENTRIES users; the least recently used goes first",
    () =>
      Effect.gen(function* () {
        const { cache, calls } = yield* setup()
        yield* cache.signIn(profile("user-0"), ctx)
        for (let i = 1; i <= MAX_ENTRIES; i++) {
          yield* cache.signIn(profile(`user-${i}`), ctx)
          if (i === MAX_ENTRIES - 1) yield* cache.signIn(profile("user-0"), ctx) // user-0 recently used again
        }
        const now = yield* Clock.currentTimeMillis
        const held = Array.from({ length: MAX_ENTRIES + 1 }, (_, i) =>
          cache.recall(profile(`user-${i}`), undefined, now)
        )
        expect(held.filter((user) => user !== undefined)).toHaveLength(MAX_ENTRIES)
        const reads = calls.reads
        yield* cache.signIn(profile("user-0"), ctx)
        expect(calls.reads).toBe(reads)
        yield* cache.signIn(profile("user-1"), ctx)
        expect(calls.reads).toBe(reads + 1)
      }),
    120_000
  )
})
