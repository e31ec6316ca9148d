import { describe, expect, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Layer, Metric, Option } from "effect"
import type { DatabaseConfig } from "../../src/domain/AppConfig.js"
import type { AuditEvent } from "../../src/domain/AuditEvent.js"
import { requestFacts } from "../../src/domain/RequestFacts.js"
import { mapRole, type RoleRule } from "../../src/domain/roleMapping.js"
import type { User } from "../../src/domain/User.js"
import { Authenticator } from "../../src/services/Authenticator.js"
import { DatabaseLive } from "../../src/services/Database.js"
import { UserRepository } from "../../src/services/UserRepository.js"
import { testConfigLayer } from "../../src/testing/config.js"
import { realStores } from "../fixtures/realStores.js"

/*
 * Roles from the proxy's groups, end to end through the real Authenticator (judgement, sign-in
 * cache, store) on both real stores: a SQLite file and PostgreSQL.
 */

const { stores } = realStores()

const MAPPING: ReadonlyArray<RoleRule> = [
  { role: "admin", groups: ["headtower-admins", "ops"] },
  { role: "auditor", groups: ["audit"] },
  { role: "member", groups: ["staff"] }
]

const open = (database: DatabaseConfig, syncTtlSeconds = 0) => {
  const config = testConfigLayer({ groupsHeader: "Remote-Groups", roleMapping: MAPPING, syncTtlSeconds }, { database })
  const repo = UserRepository.DefaultWithoutDependencies.pipe(Layer.provideMerge(DatabaseLive), Layer.provide(config))
  return Effect.map(
    Layer.build(Authenticator.Default.pipe(Layer.provideMerge(repo), Layer.provide(config))),
    (context) => {
      const auth = Context.get(context, Authenticator)
      const repo = Context.get(context, UserRepository)
      /** Signs `name` in with these groups (undefined: no groups header). */
      const signIn = (name: string, groups?: string | ReadonlyArray<string>) =>
        Effect.map(
          auth.authenticate(
            requestFacts("127.0.0.1", [
              ["Remote-User", name],
              ...(groups === undefined ? [] : [["Remote-Groups", groups] as [string, string | ReadonlyArray<string>]])
            ])
          ),
          (a) => a.user
        )
      const roleChanges = (user: User) =>
        Effect.map(repo.audit(1000), (events) =>
          events.filter((e) => e.kind === "role_changed" && e.subjectId === user.id).reverse()
        )
      return { auth, repo, signIn, roleChanges }
    }
  )
}

/** headtower_users_provisioned_total for one role, from the process's metric registry. */
const provisionedAs = (role: string) =>
  Effect.map(Metric.snapshot, (pairs) =>
    pairs
      .filter(
        (p) =>
          p.metricKey.name === "headtower_users_provisioned_total" &&
          p.metricKey.tags.some((t) => t.key === "role" && t.value === role)
      )
      .reduce((sum, p) => sum + Number((p.metricState as { readonly count?: number | bigint }).count ?? 0), 0)
  )

const asActor = (user: User) => ({ userId: user.id, identity: user.identity, clientIp: "127.0.0.1" })
const failureOf = (exit: Exit.Exit<unknown, { readonly _tag: string; readonly message: string }>) =>
  Exit.match(exit, {
    onSuccess: () => "success",
    onFailure: (cause) =>
      Option.match(Cause.failureOption(cause), {
        onNone: () => Cause.pretty(cause),
        onSome: (e) => `${e._tag}: ${e.message}`
      })
  })

describe.each(stores)("roles from the proxy's groups on $name", (store) => {
  const setup = (ttl?: number) => Effect.flatMap(Effect.promise(store.fresh), (db) => open(db, ttl))

  it.scopedLive("the first user is the owner whatever its groups; later users get the mapped role, audited", () =>
    Effect.gen(function* () {
      const { repo, signIn } = yield* setup()
      const root = yield* signIn("root", "staff")
      expect([root.role, root.roleSource]).toEqual(["owner", "manual"])
      const adminsBefore = yield* provisionedAs("admin")
      const bob = yield* signIn("bob", "dev, ops")
      expect([bob.role, bob.roleSource, bob.roleGroups]).toEqual(["admin", "groups", ["ops"]])
      // The first-login metric counts the role the mapping gave, not "member".
      expect((yield* provisionedAs("admin")) - adminsBefore).toBe(1)
      const carol = yield* signIn("carol")
      expect([carol.role, carol.roleSource]).toEqual(["member", "manual"])
      const provisioned = (yield* repo.audit(10)).find((e) => e.subjectId === bob.id)!
      expect([provisioned.kind, provisioned.actorIdentity, provisioned.detail]).toEqual([
        "user_provisioned",
        "groups:ops",
        "role=admin (groups: ops)"
      ])
      // The store and the API share the one User shape: a listing carries the source.
      const listed = (yield* repo.list()).users.find((u) => u.id === bob.id)!
      expect([listed.roleSource, listed.roleGroups]).toEqual(["groups", ["ops"]])
    })
  )

  it.scopedLive("leaving the admins group demotes on the next request, with an audit event naming the groups", () =>
    Effect.gen(function* () {
      const { signIn, roleChanges } = yield* setup()
      yield* signIn("root")
      const bob = yield* signIn("bob", "headtower-admins")
      expect(bob.role).toBe("admin")
      const demoted = yield* signIn("bob", "dev")
      expect([demoted.role, demoted.roleSource, demoted.roleGroups]).toEqual(["member", "groups", []])
      const audit = audited(yield* roleChanges(bob))
      expect(audit).toEqual([["groups:", "admin→member (no mapped group)"]])
      // An empty header is no groups: the same member, nothing more written.
      expect((yield* signIn("bob", "")).role).toBe("member")
      expect(yield* roleChanges(bob)).toHaveLength(1)
      const back = yield* signIn("bob", "audit,ops")
      expect([back.role, back.roleGroups]).toEqual(["admin", ["ops"]])
    })
  )

  it.scopedLive("a request without the groups header changes nothing", () =>
    Effect.gen(function* () {
      const { repo, signIn, roleChanges } = yield* setup()
      yield* signIn("root")
      const bob = yield* signIn("bob", "ops")
      const before = (yield* repo.audit(1000)).length
      const again = yield* signIn("bob")
      expect([again.role, again.roleSource, again.roleGroups]).toEqual(["admin", "groups", ["ops"]])
      expect((yield* repo.audit(1000)).length).toBe(before)
      expect(yield* roleChanges(bob)).toEqual([])
    })
  )

  it.scopedLive("owners are outside the mapping: two owners, one in no mapped group, both stay owners", () =>
    Effect.gen(function* () {
      const { repo, signIn, roleChanges } = yield* setup()
      const root = yield* signIn("root", "ops")
      const carol = yield* signIn("carol", "ops")
      yield* repo.setRole(carol.id, "owner", asActor(root), true)
      const rootAgain = yield* signIn("root", "dev")
      const carolAgain = yield* signIn("carol", "")
      expect([rootAgain.role, carolAgain.role]).toEqual(["owner", "owner"])
      expect(audited(yield* roleChanges(root))).toEqual([])
      // The last-owner rule still holds for the hand-made change.
      yield* repo.setRole(carol.id, "admin", asActor(root), true)
      expect(failureOf(yield* Effect.exit(repo.setRole(root.id, "admin", asActor(root), true)))).toMatch(/^LastOwner/)
    })
  )

  it.scopedLive(
    "with role_mapping on, a hand-made change of a mapped role is refused (409); owner and disable work",
    () =>
      Effect.gen(function* () {
        const { repo, signIn } = yield* setup()
        const root = yield* signIn("root")
        const bob = yield* signIn("bob", "ops")
        const refused = failureOf(yield* Effect.exit(repo.setRole(bob.id, "member", asActor(root), true)))
        expect(refused).toMatch(/^RoleManagedByGroups: .*server\.proxy_auth\.role_mapping/)
        expect((yield* repo.get(bob.id)).role).toBe("admin")
        const disabled = yield* repo.setDisabled(bob.id, true, asActor(root))
        expect(disabled.disabled).toBe(true)
        yield* repo.setDisabled(bob.id, false, asActor(root))
        const owner = yield* repo.setRole(bob.id, "owner", asActor(root), true)
        expect([owner.role, owner.roleSource, owner.roleGroups]).toEqual(["owner", "manual", []])
        // A manual user (no groups seen yet) can still be changed by hand.
        const carol = yield* signIn("carol")
        expect((yield* repo.setRole(carol.id, "viewer", asActor(root), true)).role).toBe("viewer")
      })
  )

  it.scopedLive("the cache keys on the groups: changed groups take effect at once, unchanged ones stay cached", () =>
    Effect.gen(function* () {
      const { repo, signIn } = yield* setup(3600)
      const root = yield* signIn("root")
      const bob = yield* signIn("bob", "ops")
      // A change behind the cache's back (as another replica would make it): unseen while the groups stay the same.
      const auditBefore = (yield* repo.audit(1000)).length
      yield* repo.setRole(bob.id, "viewer", asActor(root), false)
      expect((yield* signIn("bob", "ops")).role).toBe("admin")
      expect((yield* signIn("bob")).role).toBe("admin")
      // Other groups: the store is read and the mapping decides again.
      expect((yield* signIn("bob", "audit")).role).toBe("auditor")
      expect((yield* repo.audit(1000)).length).toBe(auditBefore + 2)
    })
  )

  it.scopedLive(
    "100 concurrent sign-ins of one user with changing groups: one consistent role, one event per change",
    () =>
      Effect.gen(function* () {
        const { repo, signIn, roleChanges } = yield* setup()
        yield* signIn("root")
        const bob = yield* signIn("bob", "staff")
        const groups = ["ops", "audit", "staff", "dev", "headtower-admins"]
        yield* Effect.forEach(
          Array.from({ length: 100 }, (_, i) => groups[i % groups.length]!),
          (g) => signIn("bob", g),
          { concurrency: "unbounded", discard: true }
        )
        const final = yield* repo.get(bob.id)
        const changes = yield* roleChanges(bob)
        // The events replay into the stored role: each starts where the previous ended and changes it.
        let role: string = "member"
        for (const event of changes) {
          const [from, to] = event.detail!.split(" ")[0]!.split("→")
          expect(from).toBe(role)
          expect(to).not.toBe(from)
          role = to!
        }
        expect(role).toBe(final.role)
        expect(final.roleSource).toBe("groups")
        // The deciding groups stored beside it are the ones that map to it.
        expect(mapRole(MAPPING, final.roleGroups)).toEqual({ role: final.role, groups: final.roleGroups })
      })
  )
})

const audited = (events: ReadonlyArray<AuditEvent>) => events.map((e) => [e.actorIdentity, e.detail])
