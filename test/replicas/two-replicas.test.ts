import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  E2E_API_KEY as PROCESS_API_KEY,
  type Headtower as HeadtowerProcess,
  startHeadtower
} from "../e2e/support/headtower.js"
import { rawRequest, type RawResponse } from "../e2e/support/net.js"
import { makeWorkDir } from "../e2e/support/workdir.js"
import { type FakeHeadscale, sampleNodes, sampleUsers, startFakeHeadscale } from "../../src/testing/fakeHeadscale.js"
import { type PostgresServer, startPostgres } from "../fixtures/postgres.js"

/*
 * Replicas of `headtower serve` on one real PostgreSQL database, as docs/replicas.md runs
 * them. `a` and `b` keep no user cache (sync_ttl_seconds 0) so every request sees the
 * database; `cached` keeps one for TTL seconds, to pin how far a replica may lag.
 */

const TTL_SECONDS = 2
const ADMIN_DESK = "127.0.0.4"
const work = makeWorkDir("replicas")
const stops: Array<() => Promise<unknown>> = []
let pg: PostgresServer
let databaseUrl: string
let headscale: FakeHeadscale
let a: HeadtowerProcess
let b: HeadtowerProcess
let cached: HeadtowerProcess

const call = (
  replica: HeadtowerProcess,
  path: string,
  user: string,
  options: { readonly method?: string; readonly body?: unknown; readonly from?: string } = {}
): Promise<RawResponse> =>
  rawRequest({
    port: replica.port,
    path,
    method: options.method ?? "GET",
    localAddress: options.from ?? "127.0.0.1",
    headers: [["Remote-User", user]],
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) })
  })
const patch = (replica: HeadtowerProcess, actor: string, id: string, body: unknown) =>
  call(replica, `/api/users/${id}`, actor, { method: "PATCH", body })
const database = () => databaseUrl.slice(databaseUrl.lastIndexOf("/") + 1)
const sql = (query: string) => pg.psql(query, database())
/** Sessions of this database blocked on a lock (the replicas' transactions). */
const LOCK_WAITERS =
  "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"

/** Polls `ready`; if the awaited requests settle first, they did not wait, and the test says so. */
const waitUntil = async (ready: () => Promise<boolean>, requests: () => Promise<unknown>, timeoutMs = 15_000) => {
  let settled = false
  void requests().then(
    () => (settled = true),
    () => (settled = true)
  )
  const deadline = Date.now() + timeoutMs
  while (!(await ready())) {
    if (settled) throw new Error("the requests finished without waiting for the owners' row locks")
    if (Date.now() > deadline) throw new Error(`not ready within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

beforeAll(async () => {
  pg = await startPostgres()
  stops.push(() => pg.stop())
  databaseUrl = await pg.createDatabase()
  headscale = await startFakeHeadscale({ apiKey: PROCESS_API_KEY, users: sampleUsers, nodes: sampleNodes, port: 0 })
  stops.push(() => headscale.close())
  const start = (name: string, syncTtlSeconds: number) =>
    startHeadtower({
      workDir: work.dir,
      name,
      headscaleUrl: headscale.url,
      databaseUrl,
      proxyAuth: { sync_ttl_seconds: syncTtlSeconds, allowed_cidrs: ["127.0.0.1/32", `${ADMIN_DESK}/32`] },
      onSpawn: (stop) => stops.push(stop)
    })
  // All three migrate the same empty database at once: the advisory lock must serialise them.
  const started = await Promise.allSettled([start("a", 0), start("b", 0), start("cached", TTL_SECONDS)])
  for (const result of started) if (result.status === "rejected") throw result.reason
  ;[a, b, cached] = started.map((result) => (result as PromiseFulfilledResult<HeadtowerProcess>).value) as [
    HeadtowerProcess,
    HeadtowerProcess,
    HeadtowerProcess
  ]
}, 180_000) // three servers and PostgreSQL start at once on a shared machine

afterAll(async () => {
  await Promise.allSettled(stops.reverse().map((stop) => stop()))
  work.remove()
})

describe("two replicas on one PostgreSQL database", () => {
  it("200 concurrent first logins split across both replicas create 200 users and exactly one owner", async () => {
    const responses = await Promise.all(
      Array.from({ length: 200 }, (_, i) => call(i % 2 === 0 ? a : b, "/api/me", `first-${i}`))
    )
    expect(responses.map((r) => r.status)).toEqual(Array(200).fill(200))
    expect(responses.filter((r) => r.json.role === "owner")).toHaveLength(1)
    expect(await sql("SELECT role, count(*) FROM users GROUP BY role ORDER BY role")).toBe("member|199\nowner|1")
    expect(await sql("SELECT count(*) FROM audit_events WHERE kind = 'user_provisioned'")).toBe("200")
  })

  it("when two owners demote or disable each other from different replicas at once, exactly one succeeds and one gets 409", async () => {
    const owner = (await sql("SELECT identity FROM users WHERE role = 'owner'")).replace(/^proxy:/, "")
    // Whichever first login won the race is the owner; the other is any member.
    const member = (await sql("SELECT identity FROM users WHERE role = 'member' ORDER BY seq LIMIT 1")).replace(
      /^proxy:/,
      ""
    )
    const ids = new Map<string, string>()
    for (const user of [owner, member]) ids.set(user, (await call(a, "/api/me", user)).json.id)
    let [x, y] = [owner, member]
    for (let round = 0; round < 4; round++) {
      // y becomes an enabled owner again, so there are exactly two.
      expect((await patch(a, x, ids.get(y)!, { role: "owner", disabled: false })).status).toBe(200)
      const change = round % 2 === 0 ? { role: "member" } : { disabled: true }
      // "At the same moment": both requests are past authentication and waiting on the owners'
      // row locks, held here until both wait; then they race for them.
      const holder = pg.session(database())
      try {
        holder.send("BEGIN; SELECT id FROM users WHERE role = 'owner' FOR UPDATE; SELECT 'held';")
        await holder.until("held")
        const racing = Promise.all([patch(a, x, ids.get(y)!, change), patch(b, y, ids.get(x)!, change)])
        await waitUntil(
          async () => (await sql(LOCK_WAITERS)) === "2",
          () => racing
        )
        holder.send("COMMIT;")
        const [fromA, fromB] = await racing
        const outcome = [fromA, fromB].map((r) => `${r.status} ${r.json?._tag ?? "ok"}`).sort()
        expect(outcome, `round ${round}`).toEqual(["200 ok", "409 LastOwner"])
        expect(await sql("SELECT count(*) FROM users WHERE role = 'owner' AND disabled = 0")).toBe("1")
        if (fromB.status === 200) [x, y] = [y, x]
      } finally {
        await holder.close()
      }
    }
  })

  it("the audit log is shared: who, when and from which client IP, for every kind of change", async () => {
    const owner = (await sql("SELECT identity FROM users WHERE role = 'owner' AND disabled = 0")).replace(/^proxy:/, "")
    const startedAt = Date.now()
    const newcomer = await call(b, "/api/me", "audited", { from: ADMIN_DESK })
    expect(newcomer.status).toBe(200)
    const id = newcomer.json.id
    for (const body of [{ role: "admin" }, { disabled: true }, { disabled: false }]) {
      expect((await patch(a, owner, id, body)).status).toBe(200)
    }
    // Written on a and b, read on b: one log for the instance.
    const audit = await call(b, "/api/audit?limit=1000", owner)
    expect(audit.status).toBe(200)
    const events = (audit.json as Array<any>).filter((e) => e.subjectId === id)
    expect(events.map((e) => e.kind).reverse()).toEqual([
      "user_provisioned",
      "role_changed",
      "user_disabled",
      "user_enabled"
    ])
    expect(events.at(-1)).toMatchObject({
      actorIdentity: null,
      clientIp: ADMIN_DESK,
      detail: "role=member",
      subjectIdentity: "proxy:audited"
    })
    for (const event of events.slice(0, 3)) {
      expect(event).toMatchObject({ actorIdentity: `proxy:${owner}`, clientIp: "127.0.0.1" })
    }
    expect(events.find((e) => e.kind === "role_changed").detail).toBe("member→admin")
    for (const event of events) {
      expect(Date.parse(event.at)).toBeGreaterThanOrEqual(startedAt - 1_000)
      expect(Date.parse(event.at)).toBeLessThanOrEqual(Date.now() + 1_000)
    }
    // Members may not read it.
    expect((await call(a, "/api/audit", "audit-bystander")).status).toBe(403)
  })

  it(`a role change made on one replica reaches a replica with a user cache within sync_ttl_seconds (${TTL_SECONDS} s)`, async () => {
    const owner = (await sql("SELECT identity FROM users WHERE role = 'owner' AND disabled = 0")).replace(/^proxy:/, "")
    const seen = await call(cached, "/api/me", "ttl-newcomer")
    expect(seen.json.role).toBe("member")
    const changedAt = Date.now()
    expect((await patch(a, owner, seen.json.id, { role: "admin" })).status).toBe(200)
    let role = "member"
    while (role !== "admin" && Date.now() - changedAt < (TTL_SECONDS + 5) * 1_000) {
      role = (await call(cached, "/api/me", "ttl-newcomer")).json.role
      if (role !== "admin") await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(role).toBe("admin")
    // The TTL plus slack for a few requests on a loaded machine; a cache that never expired fails.
    expect(Date.now() - changedAt).toBeLessThan(TTL_SECONDS * 1_000 + 3_000)
  })
})
