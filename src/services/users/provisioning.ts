import type * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import { type Profile, User, UserId } from "../../domain/User.js"
import { countProvisioned } from "../Metrics.js"
import type { Spans } from "../spans.js"
import { auditInsert } from "./audit.js"
import { decodeUsers, encodeUserRow, USER_COLUMNS } from "./rows.js"
import { type RunStatement, storeErrors, withDirectTransaction } from "./storeErrors.js"

// Built once: tagging a metric allocates and hashes a new key.
const countOwnerProvisioned = countProvisioned("owner")
const countMemberProvisioned = countProvisioned("member")

/** A new member for `profile`: the row the INSERT writes, unless the identity already exists. */
const newMember = (profile: Profile, at: Date) =>
  new User(
    { ...profile, id: UserId.make(randomUUID()), role: "member", disabled: false, createdAt: at, lastSeenAt: at },
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
    const owner = claim.length > 0
    if (owner) yield* run(sql`UPDATE users SET role = 'owner' WHERE id = ${member.id}`)
    const role = owner ? "owner" : "member"
    const subject = { subjectId: member.id, subjectIdentity: member.identity }
    const entry = { kind: "user_provisioned", actorId: null, actorIdentity: null, ...subject, clientIp } as const
    yield* run(auditInsert(sql, { ...entry, detail: `role=${role}` }, at))
    // Exactly the row just inserted (no trigger or default changes it): no need to read it back.
    return { user: owner ? new User({ ...member, role }, true) : member, created: true }
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
  const upsert = (profile: Profile, clientIp: string, at: Date) =>
    transaction((run) =>
      Effect.gen(function* () {
        const member = newMember(profile, at)
        const inserted = yield* run(
          sql`INSERT INTO users ${sql.insert(encodeUserRow(member))} ON CONFLICT (identity) DO NOTHING RETURNING id`
        )
        return yield* inserted.length === 0
          ? refresh(sql, run, profile, at.toISOString())
          : claimAndAudit(sql, run, member, clientIp, at)
      })
    )

  // The first-login path: no span work at all when nobody records spans (spans.ts).
  const provision = method("UserRepository.provision")((profile: Profile, context: { readonly clientIp: string }) =>
    storeErrors(
      Effect.gen(function* () {
        const result = yield* upsert(profile, context.clientIp, new Date())
        // The user id, not the identity: which person that is stays in the store (telemetry.export_identity).
        yield* annotate(() => ({
          "user.id": result.user.id,
          "user.created": result.created,
          "user.role": result.user.role
        }))
        if (result.created) yield* result.user.role === "owner" ? countOwnerProvisioned : countMemberProvisioned
        return result
      })
    )
  )

  return { provision } as const
}
