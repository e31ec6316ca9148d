import type * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import { type Profile, User, UserId } from "../../domain/User.js"
import { countProvisioned } from "../Metrics.js"
import type { Spans } from "../spans.js"
import { auditInsert } from "./audit.js"
import { decodeUsers, encodeUserRow, USER_COLUMNS } from "./rows.js"
import { storeErrors, withDirectTransaction } from "./storeErrors.js"

// Built once: tagging a metric allocates and hashes a new key.
const countOwnerProvisioned = countProvisioned("owner")
const countMemberProvisioned = countProvisioned("member")

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
        const now = at.toISOString()
        const member = new User(
          {
            ...profile,
            id: UserId.make(randomUUID()),
            role: "member",
            disabled: false,
            createdAt: at,
            lastSeenAt: at
          },
          true
        )
        const inserted = yield* run(
          sql`INSERT INTO users ${sql.insert(encodeUserRow(member))} ON CONFLICT (identity) DO NOTHING RETURNING id`
        )
        if (inserted.length === 0) {
          // Known user: the proxy's profile is the source of truth, last_seen never goes back.
          const [user] = yield* Effect.flatMap(
            run(sql`UPDATE users SET email = ${profile.email}, name = ${profile.name},
              picture = ${profile.picture},
              last_seen_at = CASE WHEN last_seen_at < ${now} THEN ${now} ELSE last_seen_at END
              WHERE identity = ${profile.identity} RETURNING ${sql.literal(USER_COLUMNS)}`),
            decodeUsers
          )
          return { user: user!, created: false }
        }
        const claim = yield* run(
          sql`INSERT INTO instance_owner_claim ${sql.insert({
            singleton: 1,
            user_id: member.id,
            claimed_at: now
          })} ON CONFLICT (singleton) DO NOTHING RETURNING user_id`
        )
        const owner = claim.length > 0
        if (owner) yield* run(sql`UPDATE users SET role = 'owner' WHERE id = ${member.id}`)
        const role = owner ? "owner" : "member"
        yield* run(
          auditInsert(
            sql,
            {
              kind: "user_provisioned",
              actorId: null,
              actorIdentity: null,
              subjectId: member.id,
              subjectIdentity: profile.identity,
              clientIp,
              detail: `role=${role}`
            },
            at
          )
        )
        // Exactly the row just inserted (no trigger or default changes it): no need to read it back.
        return { user: owner ? new User({ ...member, role }, true) : member, created: true }
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
