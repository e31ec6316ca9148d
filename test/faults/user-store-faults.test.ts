import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { E2E_API_KEY } from "../e2e/support/headtower.js"
import { type Headtower as HeadtowerProcess, startHeadtower } from "../e2e/support/headtower.js"
import { rawRequest, type RawResponse } from "../e2e/support/net.js"
import { makeWorkDir } from "../e2e/support/workdir.js"
import { type FakeHeadscale, sampleNodes, sampleUsers, startFakeHeadscale } from "../../src/testing/fakeHeadscale.js"

/*
 * The SQLite user store failing under a real Headtower process. Tests run as root, and root
 * ignores file modes, so "read-only" is the immutable attribute (chattr +i binds root too),
 * "locked" is a second process holding the write lock, "removed" is rm -rf of the data
 * directory. Each probe logs in a NEW identity, which must write whatever any user cache
 * holds, with sync_ttl_seconds 0 so known users hit the store too. The promise: a typed 503
 * within a bound, never a 500 or a stack, and the same process recovers once the fault ends.
 */

/** SQLite's busy timeout is 5 s; the rest is slack for a loaded machine. */
const BOUND_MS = 8_000

const work = makeWorkDir("store-faults")
const dataDir = work.path("data")
const dbFile = `${dataDir}/headtower.db`
let headscale: FakeHeadscale
let headtower: HeadtowerProcess | undefined
let identities = 0
const cleanups: Array<() => void> = []

const login = async (user = `new-${++identities}`): Promise<RawResponse & { readonly ms: number }> => {
  const started = performance.now()
  const response = await rawRequest({ port: headtower!.port, path: "/api/me", headers: [["Remote-User", user]] })
  return { ...response, ms: performance.now() - started }
}

const expectUnavailable = (response: RawResponse & { readonly ms: number }) => {
  expect(response.status).toBe(503)
  expect(response.json).toMatchObject({ _tag: "UserStoreUnavailable" })
  expect(response.body).not.toMatch(/SQLITE|\.ts:\d+|stack/i)
  expect(response.ms).toBeLessThan(BOUND_MS)
}

/** Whether chattr +i works here (needs CAP_LINUX_IMMUTABLE and a filesystem with attributes). */
const immutableWorks = (() => {
  const probe = `${work.dir}/chattr-probe`
  try {
    writeFileSync(probe, "x")
    execFileSync("chattr", ["+i", probe], { stdio: "ignore" })
    execFileSync("chattr", ["-i", probe], { stdio: "ignore" })
    return true
  } catch {
    return false
  } finally {
    rmSync(probe, { force: true })
  }
})()

/** A second process that takes SQLite's write lock and holds it until told to commit. */
const holdWriteLock = async (): Promise<{ readonly release: () => Promise<void> }> => {
  const betterSqlite = createRequire(import.meta.url).resolve("better-sqlite3")
  const script = `
    const Database = require(${JSON.stringify(betterSqlite)})
    const db = new Database(${JSON.stringify(dbFile)})
    db.exec("BEGIN EXCLUSIVE")
    process.stdout.write("locked\\n")
    process.stdin.once("data", () => { db.exec("COMMIT"); db.close(); process.exit(0) })`
  const child: ChildProcess = spawn(process.execPath, ["-e", script], { stdio: ["pipe", "pipe", "inherit"] })
  const exited = new Promise((resolve) => child.once("exit", resolve))
  const kill = () => child.exitCode === null && child.kill("SIGKILL")
  cleanups.push(kill)
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once("data", () => resolve())
    child.once("exit", (code) => reject(new Error(`lock holder exited early (${code})`)))
  })
  return {
    release: async () => {
      child.stdin!.write("commit\n")
      await exited
    }
  }
}

beforeAll(async () => {
  headscale = await startFakeHeadscale({ apiKey: E2E_API_KEY, users: sampleUsers, nodes: sampleNodes, port: 0 })
  headtower = await startHeadtower({
    workDir: work.dir,
    headscaleUrl: headscale.url,
    databaseUrl: `sqlite:${dbFile}`,
    proxyAuth: { sync_ttl_seconds: 0 }
  })
  // The first login claims the instance's owner role: the restore test checks it survives.
  expect((await login("owner")).json).toMatchObject({ role: "owner" })
})

afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup()
})

afterAll(async () => {
  for (const cleanup of cleanups.splice(0)) cleanup()
  await headtower?.stop()
  await headscale?.close()
  work.remove()
})

describe("SQLite user store faults, real file, real server process", () => {
  it.skipIf(!immutableWorks)(
    "database and WAL immutable (read-only even for root) → new login 503 UserStoreUnavailable; writable again → 200, same process",
    async () => {
      const files = [dbFile, `${dbFile}-wal`]
      // Not the -shm file: it is mmap'd, and a write fault on an immutable mapping is SIGBUS.
      execFileSync("chattr", ["+i", ...files])
      cleanups.push(() => execFileSync("chattr", ["-i", ...files]))
      try {
        expectUnavailable(await login())
        expectUnavailable(await login())
        expect((await rawRequest({ port: headtower!.port, path: "/healthz" })).status).toBe(200)
      } finally {
        execFileSync("chattr", ["-i", ...files])
      }
      expect((await login()).status).toBe(200)
      expect(headtower!.hasExited()).toBe(false)
    }
  )

  it("write lock held by another process → new logins 503 after the busy timeout, each within the bound, server responsive meanwhile; lock released → 200", async () => {
    const lock = await holdWriteLock()
    try {
      const concurrent = Promise.allSettled([login(), login(), login()])
      // The wait for the lock must not stall the event loop: liveness answers at once.
      const started = performance.now()
      const live = await rawRequest({ port: headtower!.port, path: "/healthz" }).catch((error) => error)
      const liveMs = performance.now() - started
      const settled = await concurrent
      expect(live).toMatchObject({ status: 200 })
      expect(liveMs).toBeLessThan(2_000)
      for (const result of settled) {
        expect(result.status).toBe("fulfilled")
        const response = (result as PromiseFulfilledResult<Awaited<ReturnType<typeof login>>>).value
        expectUnavailable(response)
        // It did wait for the lock (busy timeout), rather than failing at the first SQLITE_BUSY.
        expect(response.ms).toBeGreaterThan(4_000)
      }
    } finally {
      await lock.release()
    }
    expect((await login()).status).toBe(200)
  })

  it("a lock released while a login waits → that login succeeds (200), no 503", async () => {
    const lock = await holdWriteLock()
    const waiting = login()
    // Released well inside the busy timeout; the login is then served, not failed.
    await new Promise((resolve) => setTimeout(resolve, 500))
    await lock.release()
    const response = await waiting
    expect(response.status).toBe(200)
    expect(response.ms).toBeLessThan(BOUND_MS)
  })

  it("data directory removed → 503 (no write acknowledged into a deleted file); recreated empty → still 503; backup restored → still 503 (never adopted); restart → 200, owner kept", async () => {
    const backup = work.path("backup.db")
    // A consistent copy through SQLite itself, as an operator's backup job would take it.
    const Database = createRequire(import.meta.url)("better-sqlite3")
    const copier = new Database(dbFile)
    copier.exec(`VACUUM INTO '${backup}'`)
    copier.close()

    rmSync(dataDir, { recursive: true })
    const lostWrite = await login("written-after-removal")
    expectUnavailable(lostWrite)
    const ready = await rawRequest({ port: headtower!.port, path: "/readyz" })
    expect(ready.status).toBe(503)

    // An empty directory must not silently become a fresh database: the next login would own it.
    mkdirSync(dataDir)
    expectUnavailable(await login())
    expect(headtower!.hasExited()).toBe(false)

    // The restore: a different file (inode) at the old path. A running server never adopts a
    // file put there under it (whoever put it there would choose the owner); a restart does.
    renameSync(backup, dbFile)
    expectUnavailable(await login())
    expect(headtower!.log()).toContain(
      `${dbFile} was replaced by another file, which is not adopted; restart Headtower`
    )
    await headtower!.stop()
    headtower = await startHeadtower({
      workDir: work.dir,
      headscaleUrl: headscale.url,
      databaseUrl: `sqlite:${dbFile}`,
      proxyAuth: { sync_ttl_seconds: 0 }
    })
    expect((await login()).status).toBe(200)
    expect((await login("owner")).json).toMatchObject({ identity: "proxy:owner", role: "owner" })
    expect((await rawRequest({ port: headtower!.port, path: "/readyz" })).status).toBe(200)
  })
})
