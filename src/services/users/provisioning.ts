import type * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import { groupsActor, mappedChange, mappedDetail, type MappedRoleDecision } from "../../domain/roleMapping.js"
import { type Profile, Role, User, UserId } from "../../domain/User.js"
import { countProvisioned } from "../Metrics.js"
import type { Spans } from "../spans.js"
import { auditInsert } from "./audit.js"
import { decodeUsers, encodeUserRow, USER_COLUMNS } from "./rows.js"
import { type RunStatement, storeErrors, withDirectTransaction } from "./storeErrors.js"

// Built once per role: tagging a metric allocates and hashes a new key. A first sign-in can be
// any role the mapping decides, so each has its own counter.
const countProvisionedAs = Object.fromEntries(Role.literals.map((role) => [role, countProvisioned(role)])) as Record<
  Role,
  ReturnType<typeof countProvisioned>
>

/** What a sign-in asks of the store besides the profile: the client, and the mapping's decision when groups are known. */
export interface SignInContext {
  readonly clientIp: string
  /** role_mapping's decision for this request's groups; undefined leaves the role as it is. */
  readonly mapped?: MappedRoleDecision | undefined
}

/** A new user for `profile`: a member, or the mapped role; the row the INSERT writes, unless the identity exists. */
const newMember = (profile: Profile, at: Date, mapped: MappedRoleDecision | undefined) =>
  new User(
    {
      ...profile,
      id: UserId.make(randomUUID()),
      role: mapped?.role ?? "member",
      roleSource: mapped === undefined ? "manual" : "groups",
      roleGroups: mapped?.groups ?? [],
      disabled: false,
      createdAt: at,
      lastSeenAt: at
    },
    true
  )

/** A known user signing in again: the proxy's profile is the source of truth, last_seen never goes back. */
const refresh = (sql: SqlClient.SqlClient, run: RunStatement, profile: Profile, now: string) =>
  Effect.map(
    Effect.flatMap(
      run(sql`UPDATE users SET email = ${profile.email}, name = ${profile.name},
        picture = ${profile.picture},
        last_seen_at = CASE WHEN last_seen_at < ${now} THEN ${now} ELSE last_seen_at END
        WHERE identity = ${profile.identity} RETURNING ${sql.literal(USER_COLUMNS)}`),
      decodeUsers
    ),
    ([user]) => ({ user: user!, created: false })
  )

/**
 * The mapped role, compare-and-set: `current` was read by the refresh's UPDATE, which holds the
 * row's lock (PostgreSQL) until the transaction ends, so concurrent sign-ins of one user apply
 * their decisions one after another, each to the role the previous one left; SQLite runs one
 * transaction at a time. A change of role or source writes its audit event in this transaction.
 */
const applyMapping = (
  sql: SqlClient.SqlClient,
  run: RunStatement,
  current: User,
  mapped: MappedRoleDecision | undefined,
  clientIp: string,
  at: Date
) =>
  Effect.gen(function* () {
    const change = mappedChange(current, mapped)
    if (change === undefined) return current
    yield* run(sql`UPDATE users SET role = ${change.role}, role_source = 'groups',
      role_groups = ${JSON.stringify(change.groups)} WHERE id = ${current.id}`)
    if (current.role !== change.role || current.roleSource !== "groups") {
      const entry = {
        kind: "role_changed",
        actorId: null,
        actorIdentity: groupsActor(change.groups),
        subjectId: current.id,
        subjectIdentity: current.identity,
        clientIp,
        detail: mappedDetail(current.role, change)
      } as const
      yield* run(auditInsert(sql, entry, at))
    }
    return new User({ ...current, role: change.role, roleSource: "groups", roleGroups: change.groups }, true)
  })

/** The member just inserted: owner if it wins the instance's owner claim, and the audit event saying so. */
const claimAndAudit = (sql: SqlClient.SqlClient, run: RunStatement, member: User, clientIp: string, at: Date) =>
  Effect.gen(function* () {
    const claim = yield* run(
      sql`INSERT INTO instance_owner_claim ${sql.insert({
        singleton: 1,
        user_id: member.id,
        claimed_at: at.toISOString()
      })} ON CONFLICT (singleton) DO NOTHING RETURNING user_id`
    )
    // The first user is the owner, whatever the groups say: owners are outside the mapping.
    const owner = claim.length > 0
    if (owner) {
      yield* run(
        sql`UPDATE users SET role = 'owner', role_source = 'manual', role_groups = '[]' WHERE id = ${member.id}`
      )
    }
    const user = owner ? new User({ ...member, role: "owner", roleSource: "manual", roleGroups: [] }, true) : member
    const subject = { subjectId: member.id, subjectIdentity: member.identity }
    const mapped = user.roleSource === "groups"
    const entry = {
      kind: "user_provisioned",
      actorId: null,
      actorIdentity: mapped ? groupsActor(user.roleGroups) : null,
      ...subject,
      clientIp
    } as const
    const detail = `role=${user.role}${mapped ? ` (groups: ${user.roleGroups.join(", ") || "none mapped"})` : ""}`
    yield* run(auditInsert(sql, { ...entry, detail }, at))
    // Exactly the row just inserted (no trigger or default changes it): no need to read it back.
    return { user, created: true }
  })

/*
 * One owner per instance, guaranteed by a unique key rather than by reading first: every
 * newly inserted user tries to INSERT the single `instance_owner_claim` row (primary key
 * fixed at 1) with ON CONFLICT DO NOTHING, in the transaction that creates the user. Only
 * one insert can ever win; on PostgreSQL a racing insert waits for the winner's
 * transaction and then does nothing (or wins, if the winner rolled back). The user is
 * owner exactly when its claim returned a row. The same identity racing itself is settled
 * by the unique `identity` column: the losers' INSERT does nothing and they refresh the
 * winner's row instead. Locks are always taken users → claim, so no deadlock.
 */
export const makeProvisioning = (sql: SqlClient.SqlClient, { annotate, method }: Spans) => {
  const transaction = withDirectTransaction(sql)

  /** The user for `profile`, created (the first one as owner) or refreshed, in one transaction. */
  const upsert = (profile: Profile, { clientIp, mapped }: SignInContext, at: Date) =>
    transaction((run) =>
      Effect.gen(function* () {
        const member = newMember(profile, at, mapped)
        const inserted = yield* run(
          sql`INSERT INTO users ${sql.insert(encodeUserRow(member))} ON CONFLICT (identity) DO NOTHING RETURNING id`
        )
        if (inserted.length > 0) return yield* claimAndAudit(sql, run, member, clientIp, at)
        const { user } = yield* refresh(sql, run, profile, at.toISOString())
        return { user: yield* applyMapping(sql, run, user, mapped, clientIp, at), created: false }
      })
    )

  // The first-login path: no span work at all when nobody records spans (spans.ts).
  const provision = method("UserRepository.provision")((profile: Profile, context: SignInContext) =>
    storeErrors(
      Effect.gen(function* () {
        const result = yield* upsert(profile, context, new Date())
        // The user id, not the identity: which person that is stays in the store (telemetry.export_identity).
        yield* annotate(() => ({
          "user.id": result.user.id,
          "user.created": result.created,
          "user.role": result.user.role
        }))
        if (result.created) yield* countProvisionedAs[result.user.role]
        return result
      })
    )
  )

  return { provision } as const
}
