import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { Migrator, SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Effect, Either, Fiber, Layer, Option, Redacted } from "effect"
import { existsSync, mkdirSync } from "node:fs"
import { dirname } from "node:path"
import type { DatabaseConfig } from "../../src/domain/AppConfig.js"
import type { AuditActor } from "../../src/domain/AuditEvent.js"
import { Identity, Profile, Role, type User, UserId, USERS_PAGE_MAX } from "../../src/domain/User.js"
import usersMigration from "../../src/migrations/0001_users.js"
import auditMigration from "../../src/migrations/0002_audit.js"
import { DatabaseLive } from "../../src/services/Database.js"
import { UserRepository } from "../../src/services/UserRepository.js"
import { testConfigLayer } from "../../src/testing/config.js"
import { realStores } from "../fixtures/realStores.js"

/*
 * One suite, two real stores: a SQLite file in a temp directory and a PostgreSQL server
 * started for this file. Every test gets a fresh, empty database.
 */

const { stores, postgres } = realStores()

const layerFor = (database: DatabaseConfig) =>
  UserRepository.DefaultWithoutDependencies.pipe(
    Layer.provideMerge(DatabaseLive),
    Layer.provide(testConfigLayer(undefined, { database }))
  )

/** A bare client on `database`, with no migrations run. */
const rawClient = (database: DatabaseConfig): Layer.Layer<SqlClient.SqlClient, unknown> =>
  database.kind === "sqlite"
    ? Layer.unwrapEffect(
        Effect.sync(() => {
          mkdirSync(dirname(database.path), { recursive: true })
          return SqliteClient.layer({ filename: database.path })
        })
      )
    : PgClient.layer({ url: database.url })

/** Builds the repository (and its SqlClient) on `database`, for the enclosing scope. */
const open = (database: DatabaseConfig) =>
  Effect.map(Layer.build(layerFor(database)), (context) => ({
    repo: Context.get(context, UserRepository),
    sql: Context.get(context, SqlClient.SqlClient)
  }))

const profile = (name: string, extra: Partial<Omit<Profile, "identity">> = {}) =>
  Profile.make({
    identity: Identity.make(`proxy:${name}`),
    email: `${name}@example.test`,
    name: name.toUpperCase(),
    picture: null,
    ...extra
  })

const ctx = { clientIp: "192.0.2.10" }
const actorOf = (user: User): AuditActor => ({ userId: user.id, identity: user.identity, clientIp: "192.0.2.99" })

describe.each(stores)("UserRepository on $name", (store) => {
  const setup = Effect.gen(function* () {
    const database = yield* Effect.promise(() => store.fresh())
    return { database, ...(yield* open(database)) }
  })

  it.scopedLive("the first user becomes owner, later users members, a returning user is not re-created", () =>
    Effect.gen(function* () {
      const { repo } = yield* setup
      const alice = yield* repo.provision(profile("alice"), ctx)
      const bob = yield* repo.provision(profile("bob"), ctx)
      const again = yield* repo.provision(profile("alice"), ctx)
      expect([alice.created, alice.user.role]).toEqual([true, "owner"])
      expect([bob.created, bob.user.role]).toEqual([true, "member"])
      expect([again.created, again.user.role, again.user.id]).toEqual([false, "owner", alice.user.id])
    })
  )

  it.scopedLive("a returning user's email, name and picture are refreshed and last_seen advances", () =>
    Effect.gen(function* () {
      const { repo } = yield* setup
      const first = (yield* repo.provision(profile("alice"), ctx)).user
      yield* Effect.sleep("5 millis")
      const changed = profile("alice", {
        email: "new@example.test",
        name: "Alice B",
        picture: "https://pic.test/a.png"
      })
      const { created, user } = yield* repo.provision(changed, ctx)
      expect(created).toBe(false)
      expect(user.id).toBe(first.id)
      expect([user.email, user.name, user.picture]).toEqual(["new@example.test", "Alice B", "https://pic.test/a.png"])
      expect(user.createdAt.getTime()).toBe(first.createdAt.getTime())
      expect(user.lastSeenAt.getTime()).toBeGreaterThan(first.lastSeenAt.getTime())
      expect((yield* repo.list()).users).toHaveLength(1)
    })
  )

  it.scopedLive("100 concurrent first logins of distinct identities make exactly one owner and 100 users", () =>
    Effect.gen(function* () {
      const { repo } = yield* setup
      const results = yield* Effect.forEach(
        Array.from({ length: 100 }, (_, i) => profile(`user${i}`)),
        (p) => repo.provision(p, ctx),
        { concurrency: "unbounded" }
      )
      const users = (yield* repo.list()).users
      expect(users).toHaveLength(100)
      expect(users.filter((u) => u.role === "owner")).toHaveLength(1)
      expect(results.filter((r) => r.user.role === "owner")).toHaveLength(1)
      expect(results.every((r) => r.created)).toBe(true)
      expect((yield* repo.audit(1000)).filter((e) => e.kind === "user_provisioned")).toHaveLength(100)
    })
  )

  it.scopedLive("100 concurrent logins of one identity create one row and all succeed", () =>
    Effect.gen(function* () {
      const { repo } = yield* setup
      const results = yield* Effect.forEach(
        Array.from({ length: 100 }, () => profile("alice")),
        (p) => repo.provision(p, ctx),
        { concurrency: "unbounded" }
      )
      expect(results.filter((r) => r.created)).toHaveLength(1)
      expect(new Set(results.map((r) => r.user.id)).size).toBe(1)
      const users = (yield* repo.list()).users
      expect(users.map((u) => [u.identity, u.role])).toEqual([["proxy:alice", "owner"]])
      expect(yield* repo.audit(1000)).toHaveLength(1)
    })
  )

  it.scopedLive("the last enabled owner can be neither demoted nor disabled; a disabled owner does not count", () =>
    Effect.gen(function* () {
      const { repo } = yield* setup
      const alice = (yield* repo.provision(profile("alice"), ctx)).user
      const bob = (yield* repo.provision(profile("bob"), ctx)).user
      const by = actorOf(alice)
      expect((yield* Effect.flip(repo.setRole(alice.id, "admin", by)))._tag).toBe("LastOwner")
      expect((yield* Effect.flip(repo.setDisabled(alice.id, true, by)))._tag).toBe("LastOwner")

      yield* repo.setRole(bob.id, "owner", by)
      expect((yield* repo.setDisabled(bob.id, true, by)).disabled).toBe(true)
      // Bob is an owner but disabled: Alice is still the last enabled owner.
      expect((yield* Effect.flip(repo.setRole(alice.id, "member", by)))._tag).toBe("LastOwner")

      yield* repo.setDisabled(bob.id, false, by)
      expect((yield* repo.setRole(alice.id, "member", by)).role).toBe("member")
      expect((yield* Effect.flip(repo.setRole(bob.id, "member", by)))._tag).toBe("LastOwner")
      const owners = (yield* repo.list()).users.filter((u) => u.role === "owner")
      expect(owners.map((u) => u.id)).toEqual([bob.id])
    })
  )

  it.scopedLive("of two owners demoted or disabled at the same moment, exactly one change succeeds", () =>
    Effect.gen(function* () {
      const { repo } = yield* setup
      const alice = (yield* repo.provision(profile("alice"), ctx)).user
      const bob = (yield* repo.provision(profile("bob"), ctx)).user
      const by = actorOf(alice)
      // Several rounds, alternating which change each side makes, to give the race a chance.
      for (let round = 0; round < 6; round++) {
        yield* repo.setRole(bob.id, "owner", by)
        yield* repo.setRole(alice.id, "owner", by)
        const removeOwner = (user: User, disable: boolean) =>
          disable ? repo.setDisabled(user.id, true, by) : repo.setRole(user.id, "member", by)
        const outcomes = yield* Effect.all(
          [Effect.either(removeOwner(alice, round % 2 === 0)), Effect.either(removeOwner(bob, round % 3 === 0))],
          { concurrency: 2 }
        )
        expect(outcomes.filter(Either.isRight)).toHaveLength(1)
        expect(outcomes.filter(Either.isLeft).map((e) => e.left._tag)).toEqual(["LastOwner"])
        const enabledOwners = (yield* repo.list()).users.filter((u) => u.role === "owner" && !u.disabled)
        expect(enabledOwners).toHaveLength(1)
        yield* repo.setDisabled(alice.id, false, by)
        yield* repo.setDisabled(bob.id, false, by)
      }
    })
  )

  it.scopedLive("a user can be disabled and enabled again", () =>
    Effect.gen(function* () {
      const { repo } = yield* setup
      const alice = (yield* repo.provision(profile("alice"), ctx)).user
      const bob = (yield* repo.provision(profile("bob"), ctx)).user
      expect((yield* repo.setDisabled(bob.id, true, actorOf(alice))).disabled).toBe(true)
      expect((yield* repo.get(bob.id)).disabled).toBe(true)
      expect((yield* repo.provision(profile("bob"), ctx)).user.disabled).toBe(true)
      expect((yield* repo.setDisabled(bob.id, false, actorOf(alice))).disabled).toBe(false)
      expect((yield* repo.get(bob.id)).disabled).toBe(false)
    })
  )

  it.scopedLive("every change is audited with actor, subject, client IP and detail, newest first", () =>
    Effect.gen(function* () {
      const { repo } = yield* setup
      const alice = (yield* repo.provision(profile("alice"), { clientIp: "198.51.100.1" })).user
      const bob = (yield* repo.provision(profile("bob"), { clientIp: "198.51.100.2" })).user
      const by = actorOf(alice)
      yield* repo.setRole(bob.id, "admin", by)
      yield* repo.setDisabled(bob.id, true, by)
      yield* repo.setDisabled(bob.id, false, by)
      // Refused and no-op changes leave no trace.
      yield* Effect.flip(repo.setRole(alice.id, "member", by))
      yield* repo.setRole(bob.id, "admin", by)
      yield* repo.provision(profile("bob"), ctx)

      const events = yield* repo.audit(10)
      expect(events.map((e) => [e.kind, e.actorIdentity, e.subjectIdentity, e.clientIp, e.detail])).toEqual([
        ["user_enabled", "proxy:alice", "proxy:bob", "192.0.2.99", null],
        ["user_disabled", "proxy:alice", "proxy:bob", "192.0.2.99", null],
        ["role_changed", "proxy:alice", "proxy:bob", "192.0.2.99", "member→admin"],
        ["user_provisioned", null, "proxy:bob", "198.51.100.2", "role=member"],
        ["user_provisioned", null, "proxy:alice", "198.51.100.1", "role=owner"]
      ])
      expect(events[0]!.actorId).toBe(alice.id)
      expect(events[0]!.subjectId).toBe(bob.id)
      expect(events[0]!.at).toBeInstanceOf(Date)
      expect(yield* repo.audit(2)).toHaveLength(2)
    })
  )

  it.scopedLive("unknown ids fail with UserNotFound and unknown identities find nothing", () =>
    Effect.gen(function* () {
      const { repo } = yield* setup
      const alice = (yield* repo.provision(profile("alice"), ctx)).user
      const ghost = crypto.randomUUID() as User["id"]
      expect((yield* Effect.flip(repo.get(ghost)))._tag).toBe("UserNotFound")
      expect((yield* Effect.flip(repo.setRole(ghost, "admin", actorOf(alice))))._tag).toBe("UserNotFound")
      expect((yield* Effect.flip(repo.setDisabled(ghost, true, actorOf(alice))))._tag).toBe("UserNotFound")
      expect(yield* repo.findByIdentity(Identity.make("proxy:ghost"))).toEqual(Option.none())
      expect(Option.map(yield* repo.findByIdentity(alice.identity), (u) => u.id)).toEqual(Option.some(alice.id))
    })
  )

  it.scopedLive("list returns users in creation order", () =>
    Effect.gen(function* () {
      const { repo } = yield* setup
      for (const name of ["carol", "alice", "bob"]) yield* repo.provision(profile(name), ctx)
      expect((yield* repo.list()).users.map((u) => u.identity)).toEqual(["proxy:carol", "proxy:alice", "proxy:bob"])
    })
  )

  it.scopedLive(
    "list pages in creation order: limit, a next cursor until the last page, and an unknown cursor refused",
    () =>
      Effect.gen(function* () {
        const { repo } = yield* setup
        const names = ["carol", "alice", "bob", "dave", "erin"]
        for (const name of names) yield* repo.provision(profile(name), ctx)
        const seen: Array<string> = []
        const sizes: Array<number> = []
        let page = yield* repo.list({ limit: 2 })
        for (;;) {
          seen.push(...page.users.map((u) => u.identity))
          sizes.push(page.users.length)
          if (page.next === undefined) break
          expect(page.next).toBe(page.users.at(-1)?.id)
          page = yield* repo.list({ limit: 2, after: page.next })
        }
        expect(seen).toEqual(names.map((n) => `proxy:${n}`))
        expect(sizes).toEqual([2, 2, 1])
        // Exactly a full last page: no cursor to an empty page.
        const all = yield* repo.list({ limit: 5 })
        expect([all.users.length, all.next]).toEqual([5, undefined])
        // After the last user: an empty page, not an error.
        expect(yield* repo.list({ after: all.users[4]!.id })).toEqual({ users: [], next: undefined, prev: undefined })
        const unknown = yield* Effect.flip(repo.list({ after: UserId.make("no-such-user") }))
        expect(unknown._tag).toBe("UserNotFound")
        expect((yield* repo.list({ limit: 0 })).users).toHaveLength(1)
      })
  )

  it.scopedLive("q matches identity, email or name as a substring, ignoring ASCII case; % and _ match literally", () =>
    Effect.gen(function* () {
      const { repo } = yield* setup
      yield* repo.provision(profile("alice", { email: "Alice@Example.test", name: "Alice Liddell" }), ctx)
      yield* repo.provision(profile("bob", { email: "bob@corp.test", name: "100% Bob" }), ctx)
      yield* repo.provision(profile("carol_x", { email: null, name: "Carol" }), ctx)
      yield* repo.provision(profile("carolax", { email: null, name: "Carola" }), ctx)
      yield* repo.provision(profile("back\\slash", { email: null, name: null }), ctx)
      const found = (q: string) => Effect.map(repo.list({ q }), (page) => page.users.map((u) => u.identity))
      expect(yield* found("LIDDELL")).toEqual(["proxy:alice"])
      expect(yield* found("example.TEST")).toEqual(["proxy:alice"])
      expect(yield* found("proxy:BOB")).toEqual(["proxy:bob"])
      expect(yield* found("%")).toEqual(["proxy:bob"])
      expect(yield* found("0% b")).toEqual(["proxy:bob"])
      expect(yield* found("carol_")).toEqual(["proxy:carol_x"])
      expect(yield* found("_")).toEqual(["proxy:carol_x"])
      expect(yield* found("\\")).toEqual(["proxy:back\\slash"])
      expect(yield* found("nobody")).toEqual([])
      expect((yield* found("")).length).toBe(5)
    })
  )

  it.scopedLive("role filters the page, and q and role together narrow it", () =>
    Effect.gen(function* () {
      const { repo } = yield* setup
      const alice = (yield* repo.provision(profile("alice"), ctx)).user
      const names = ["bob", "carol", "dave", "erin"]
      const users = yield* Effect.forEach(names, (name) =>
        Effect.map(repo.provision(profile(name), ctx), (r) => r.user)
      )
      yield* repo.setRole(users[0]!.id, "admin", actorOf(alice))
      yield* repo.setRole(users[2]!.id, "admin", actorOf(alice))
      const ids = (page: { users: ReadonlyArray<User> }) => page.users.map((u) => u.identity)
      expect(ids(yield* repo.list({ role: "admin" }))).toEqual(["proxy:bob", "proxy:dave"])
      expect(ids(yield* repo.list({ role: "owner" }))).toEqual(["proxy:alice"])
      expect(ids(yield* repo.list({ role: "admin", q: "DAVE" }))).toEqual(["proxy:dave"])
      expect(ids(yield* repo.list({ role: "auditor" }))).toEqual([])
    })
  )

  it.scopedLive(
    "pages forwards with after and backwards with before, each with the links on either side, within a filter",
    () =>
      Effect.gen(function* () {
        const { repo } = yield* setup
        // Seven users; the search "k" matches five of them (k1…k5), with others in between.
        for (const name of ["k1", "other-a", "k2", "k3", "other-b", "k4", "k5"])
          yield* repo.provision(profile(name), ctx)
        const ids = (page: { users: ReadonlyArray<User> }) => page.users.map((u) => u.identity.slice("proxy:".length))
        const first = yield* repo.list({ q: "k", limit: 2 })
        expect([ids(first), first.prev]).toEqual([["k1", "k2"], undefined])
        const second = yield* repo.list({ q: "k", limit: 2, after: first.next })
        expect(ids(second)).toEqual(["k3", "k4"])
        expect(second.prev).toBe(second.users[0]!.id)
        const third = yield* repo.list({ q: "k", limit: 2, after: second.next })
        expect([ids(third), third.next]).toEqual([["k5"], undefined])
        // Backwards from the last page: the same pages, in the same order within each.
        const back = yield* repo.list({ q: "k", limit: 2, before: third.prev })
        expect(ids(back)).toEqual(["k3", "k4"])
        expect(back.next).toBe(back.users[1]!.id)
        const start = yield* repo.list({ q: "k", limit: 2, before: back.prev })
        expect([ids(start), start.prev]).toEqual([["k1", "k2"], undefined])
        expect(start.next).toBe(start.users[1]!.id)
        // Before the first user: an empty page with no links; an unknown cursor is refused.
        expect(yield* repo.list({ before: start.users[0]!.id })).toEqual({
          users: [],
          next: undefined,
          prev: undefined
        })
        expect((yield* Effect.flip(repo.list({ before: UserId.make("no-such-user") })))._tag).toBe("UserNotFound")
        // Unfiltered, a page after a cursor links back even when its cursor itself is not shown.
        const unfiltered = yield* repo.list({ limit: 3, after: first.users[0]!.id })
        expect([ids(unfiltered), unfiltered.prev]).toEqual([["other-a", "k2", "k3"], unfiltered.users[0]!.id])
      })
  )

  it.scopedLive(
    "a page never holds more than 1,000 users, whatever limit the caller passes",
    () =>
      Effect.gen(function* () {
        const { repo } = yield* setup
        const names = Array.from({ length: USERS_PAGE_MAX + 2 }, (_, i) => `bulk-${i}`)
        yield* Effect.forEach(names, (name) => repo.provision(profile(name), ctx), { concurrency: 8, discard: true })
        for (const limit of [5_000, Number.NaN, Number.POSITIVE_INFINITY, undefined]) {
          const page = yield* repo.list({ limit })
          expect(page.users).toHaveLength(USERS_PAGE_MAX)
          expect(page.next).toBe(page.users.at(-1)?.id)
        }
      }),
    120_000
  )

  it.scopedLive("touchLastSeen writes a batch, never moves last_seen back and ignores unknown ids", () =>
    Effect.gen(function* () {
      const { repo } = yield* setup
      const alice = (yield* repo.provision(profile("alice"), ctx)).user
      const bob = (yield* repo.provision(profile("bob"), ctx)).user
      const later = new Date(alice.lastSeenAt.getTime() + 60_000)
      const earlier = new Date(bob.lastSeenAt.getTime() - 60_000)
      yield* repo.touchLastSeen([
        { id: bob.id, at: earlier },
        { id: alice.id, at: later },
        { id: crypto.randomUUID() as User["id"], at: later }
      ])
      yield* repo.touchLastSeen([])
      expect((yield* repo.get(alice.id)).lastSeenAt.getTime()).toBe(later.getTime())
      expect((yield* repo.get(bob.id)).lastSeenAt.getTime()).toBe(bob.lastSeenAt.getTime())
    })
  )

  it.scopedLive("a large touchLastSeen batch lets the event loop run between every few dozen rows", () =>
    Effect.gen(function* () {
      const { repo } = yield* setup
      // Counts the event loop's turns while the batch is written (SQLite's driver is synchronous).
      let writing = true
      let turns = 0
      const tick = () => {
        if (!writing) return
        turns += 1
        setImmediate(tick)
      }
      setImmediate(tick)
      yield* repo.touchLastSeen(
        Array.from({ length: 640 }, () => ({ id: crypto.randomUUID() as User["id"], at: new Date() }))
      )
      writing = false
      expect(turns).toBeGreaterThanOrEqual(9)
    })
  )

  it.scopedLive("migrations are idempotent: a second start on the same database keeps the data", () =>
    Effect.gen(function* () {
      const database = yield* Effect.promise(() => store.fresh())
      const alice = yield* Effect.scoped(
        Effect.flatMap(open(database), ({ repo }) => repo.provision(profile("alice"), ctx))
      )
      const { repo, sql } = yield* open(database)
      expect(Option.map(yield* repo.findByIdentity(alice.user.identity), (u) => u.role)).toEqual(Option.some("owner"))
      expect((yield* repo.provision(profile("bob"), ctx)).user.role).toBe("member")
      const applied = yield* sql<{
        migration_id: number
      }>`SELECT migration_id FROM headtower_migrations ORDER BY migration_id`
      expect(applied.map((row) => Number(row.migration_id))).toEqual([1, 2, 3, 4])
    })
  )

  it.scopedLive(
    "a store from before the new roles migrates with owner, admin and member kept, and takes every role after",
    () =>
      Effect.gen(function* () {
        const database = yield* Effect.promise(() => store.fresh())
        // The store as the previous release left it: migrations 1 and 2, three users.
        yield* Effect.scoped(
          Effect.gen(function* () {
            const sql = yield* SqlClient.SqlClient
            yield* Migrator.make({})({
              loader: Migrator.fromRecord({ "0001_users": usersMigration, "0002_audit": auditMigration }),
              table: "headtower_migrations"
            })
            const at = new Date().toISOString()
            for (const [n, role] of ["owner", "admin", "member"].entries()) {
              yield* sql`INSERT INTO users ${sql.insert({
                id: `old-${n}`,
                identity: `proxy:old-${role}`,
                role,
                disabled: 0,
                created_at: at,
                last_seen_at: at
              })}`
            }
            yield* sql`INSERT INTO instance_owner_claim ${sql.insert({ singleton: 1, user_id: "old-0", claimed_at: at })}`
          }).pipe(Effect.provide(rawClient(database)))
        )
        const { repo } = yield* open(database)
        const before = (yield* repo.list()).users
        expect(before.map((user) => [user.identity, user.role])).toEqual([
          ["proxy:old-owner", "owner"],
          ["proxy:old-admin", "admin"],
          ["proxy:old-member", "member"]
        ])
        const owner = before[0]!
        for (const role of Role.literals.filter((role) => role !== "owner")) {
          expect((yield* repo.setRole(UserId.make("old-2"), role, actorOf(owner))).role).toBe(role)
        }
        // The one-owner and last-owner rules still hold after the rebuild.
        expect((yield* repo.provision(profile("newcomer"), ctx)).user.role).toBe("member")
        const lastOwner = yield* Effect.either(repo.setRole(owner.id, "auditor", actorOf(owner)))
        expect(Either.isLeft(lastOwner) && lastOwner.left._tag).toBe("LastOwner")
        // Row order (seq) survives, and new rows come after the copied ones.
        expect((yield* repo.list()).users.map((user) => user.identity)).toEqual([
          "proxy:old-owner",
          "proxy:old-admin",
          "proxy:old-member",
          "proxy:newcomer"
        ])
      })
  )

  it.scopedLive("a store that cannot be opened fails start-up with UserStoreUnavailable, not a defect", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(open(store.unopenable()))
      expect(error._tag).toBe("UserStoreUnavailable")
      expect(error.message).not.toMatch(/postgres:\/\//)
    })
  )

  it.scopedLive(
    "a store lost while running fails calls with UserStoreUnavailable, not a defect",
    () =>
      Effect.gen(function* () {
        const { database, repo } = yield* setup
        yield* repo.provision(profile("alice"), ctx)
        if (database.kind === "postgres") {
          const name = new URL(Redacted.value(database.url)).pathname.slice(1)
          yield* Effect.promise(() => postgres().psql(`DROP DATABASE "${name}" WITH (FORCE)`))
          expect((yield* Effect.flip(repo.list()))._tag).toBe("UserStoreUnavailable")
          expect((yield* Effect.flip(repo.provision(profile("bob"), ctx)))._tag).toBe("UserStoreUnavailable")
        } else {
          // Another process holding the write lock beyond the busy timeout: writes give up.
          const { sql } = yield* open(database)
          const locked = yield* Deferred.make<void>()
          const release = yield* Deferred.make<void>()
          const holder = yield* Effect.fork(
            sql.withTransaction(
              sql`UPDATE users SET name = name`.pipe(
                Effect.zipRight(Deferred.succeed(locked, undefined)),
                Effect.zipRight(Deferred.await(release))
              )
            )
          )
          yield* Deferred.await(locked)
          expect((yield* Effect.flip(repo.provision(profile("bob"), ctx)))._tag).toBe("UserStoreUnavailable")
          yield* Deferred.succeed(release, undefined)
          yield* Fiber.join(holder)
        }
      }),
    20_000
  )

  it.scopedLive.runIf(store.kind === "sqlite")(
    "a last_seen batch waits out another connection's write lock, then writes every row",
    () =>
      Effect.gen(function* () {
        const { database, repo } = yield* setup
        const users = yield* Effect.forEach(["alice", "bob", "carol"], (name) =>
          Effect.map(repo.provision(profile(name), ctx), (provisioned) => provisioned.user)
        )
        const at = new Date(users[0]!.lastSeenAt.getTime() + 60_000)
        // 200 rows (4 chunks), the known users last, so they fall in the last chunk.
        const unknown = Array.from({ length: 197 }, () => ({ id: crypto.randomUUID() as User["id"], at }))
        const { sql } = yield* open(database)
        const locked = yield* Deferred.make<void>()
        const holder = yield* Effect.fork(
          sql.withTransaction(
            sql`UPDATE users SET name = name`.pipe(
              Effect.zipRight(Deferred.succeed(locked, undefined)),
              Effect.zipRight(Effect.sleep("300 millis"))
            )
          )
        )
        yield* Deferred.await(locked)
        yield* repo.touchLastSeen([...unknown, ...users.map((user) => ({ id: user.id, at }))])
        yield* Fiber.join(holder)
        for (const user of users) expect((yield* repo.get(user.id)).lastSeenAt.getTime()).toBe(at.getTime())
      }),
    20_000
  )

  it.scopedLive.runIf(store.kind === "sqlite")("the SQLite file is created with its directory, in WAL mode", () =>
    Effect.gen(function* () {
      const { database, sql } = yield* setup
      expect(database.kind === "sqlite" && existsSync(database.path)).toBe(true)
      const [mode] = yield* sql<{ journal_mode: string }>`PRAGMA journal_mode`
      expect(mode?.journal_mode).toBe("wal")
    })
  )

  // Replicas of a PostgreSQL deployment may start together; SQLite serves a single process.
  it.scopedLive.runIf(store.kind === "postgres")(
    "two replicas starting at once on an empty database both come up",
    () =>
      Effect.gen(function* () {
        const database = yield* Effect.promise(() => store.fresh())
        const [first, second] = yield* Effect.all([open(database), open(database)], { concurrency: 2 })
        yield* first.repo.provision(profile("alice"), ctx)
        expect((yield* second.repo.list()).users.map((u) => u.role)).toEqual(["owner"])
      })
  )
})
