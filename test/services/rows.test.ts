import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, FastCheck, Schema } from "effect"
import { AuditEvent } from "../../src/domain/AuditEvent.js"
import { User } from "../../src/domain/User.js"
import { AuditEventFromRow, encodeAuditRow, encodeUserRow, UserFromRow } from "../../src/services/users/rows.js"

/** Valid dates only: the store writes ISO-8601 text, which an invalid Date has none of. */
const validDates = { noInvalidDate: true, min: new Date("1970-01-01"), max: new Date("2999-12-31") }

describe("store rows", () => {
  it("a user's INSERT row is the schema's own encoding, and decodes back to the same user", () => {
    FastCheck.assert(
      FastCheck.property(
        Arbitrary.make(User),
        FastCheck.date(validDates),
        FastCheck.date(validDates),
        (user, created, seen) => {
          const u = new User({ ...user, createdAt: created, lastSeenAt: seen })
          const row = encodeUserRow(u)
          expect(row).toStrictEqual(Schema.encodeSync(UserFromRow)(u))
          expect(Schema.decodeUnknownSync(UserFromRow)(row)).toStrictEqual(u)
        }
      )
    )
  })

  it("an audit event's INSERT row is the schema's own encoding, and decodes back to the same event", () => {
    FastCheck.assert(
      FastCheck.property(Arbitrary.make(AuditEvent), FastCheck.date(validDates), (event, at) => {
        const e = new AuditEvent({ ...event, at })
        const row = encodeAuditRow(e)
        expect(row).toStrictEqual(Schema.encodeSync(AuditEventFromRow)(e))
        expect(Schema.decodeUnknownSync(AuditEventFromRow)(row)).toStrictEqual(e)
      })
    )
  })
})
