import type * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import { Schema } from "effect"
import { randomUUID } from "node:crypto"
import { AuditEvent } from "../../domain/AuditEvent.js"
import type { Spans } from "../spans.js"
import { AUDIT_COLUMNS, AuditEventFromRow, encodeAuditRow } from "./rows.js"
import { storeErrors } from "./storeErrors.js"

/** An audit event before it is stored: the store gives it its id and time. */
export type AuditEntry = Omit<AuditEvent, "id" | "at">

/** The INSERT recording one change; run in the transaction that makes the change. */
export const auditInsert = (sql: SqlClient.SqlClient, entry: AuditEntry, at: Date) =>
  sql`INSERT INTO audit_events ${sql.insert(encodeAuditRow(new AuditEvent({ ...entry, id: randomUUID(), at }, true)))}`

/** The audit log's reader: the newest `limit` events, newest first. */
export const makeAuditLog = (sql: SqlClient.SqlClient, { method }: Spans) => {
  const newest = SqlSchema.findAll({
    Request: Schema.Number,
    Result: AuditEventFromRow,
    execute: (limit) => sql`SELECT ${sql.literal(AUDIT_COLUMNS)} FROM audit_events ORDER BY seq DESC LIMIT ${limit}`
  })
  const audit = method("UserRepository.audit")((limit: number) => storeErrors(newest(Math.max(0, Math.floor(limit)))))
  return { audit } as const
}
