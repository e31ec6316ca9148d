import { chmodSync, chownSync, mkdirSync, statSync, symlinkSync, writeFileSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { stringify } from "yaml"
import { freePort, rawRequest } from "../e2e/support/net.js"
import { headtowerAs, userWorkDir } from "../fixtures/unprivileged.js"

/*
 * The SQLite store's files against other local users. The server runs as an unprivileged
 * user (root would bypass every mode checked here) under a permissive umask.
 */

const SLOW = { timeout: 180_000 }
const work = userWorkDir("store-files")
const { user } = work

afterAll(() => work.remove())

const config = (name: string, databaseUrl: string, port = 0) => {
  const path = work.path(`${name}.yaml`)
  writeFileSync(path, stringify({ server: { listen: `127.0.0.1:${port}` }, database: { url: databaseUrl } }))
  chmodSync(path, 0o644)
  return path
}

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8)

/** Starts `serve`, expecting it to refuse: its exit code ("served" if it came up) and output. */
const refusal = async (name: string, databaseUrl: string) => {
  const port = await freePort()
  const run = headtowerAs(user, ["serve", "--config", config(name, databaseUrl, port)], { umask: "000" })
  let exited = false
  const served = (async () => {
    while (!exited) {
      if (
        await rawRequest({ port, path: "/healthz" }).then(
          (r) => r.status === 200,
          () => false
        )
      ) {
        return "served" as const
      }
      await new Promise((r) => setTimeout(r, 100))
    }
    return undefined
  })()
  const code = await Promise.race([run.exited.then((e) => e.code), served])
  exited = true
  run.child.kill("SIGKILL")
  return { code, ...run.output() }
}

describe("the store's files, server run as an unprivileged user", SLOW, () => {
  let port: number
  beforeAll(async () => {
    port = await freePort()
  })

  it("a fresh data directory is created 0700 and headtower.db, -wal, -shm 0600, even under umask 000", async () => {
    const db = work.path("fresh/data/headtower.db")
    const run = headtowerAs(user, ["serve", "--config", config("fresh", `sqlite:${db}`, port)], { umask: "000" })
    try {
      let healthy = false
      for (let i = 0; i < 600 && !healthy && run.child.exitCode === null; i++) {
        healthy = await rawRequest({ port, path: "/healthz" }).then(
          (r) => r.status === 200,
          () => false
        )
        if (!healthy) await new Promise((r) => setTimeout(r, 100))
      }
      expect(healthy, run.output().stderr).toBe(true)
      expect(mode(work.path("fresh/data"))).toBe("700")
      for (const file of [db, `${db}-wal`, `${db}-shm`]) {
        expect([file, mode(file)]).toEqual([file, "600"])
        expect(statSync(file).uid).toBe(user.uid)
      }
    } finally {
      run.child.kill("SIGTERM")
      await run.exited
    }
  })

  it("a data directory writable by other users is refused, naming the directory and the fix", async () => {
    const dir = work.path("shared")
    mkdirSync(dir)
    chownSync(dir, user.uid, user.gid)
    chmodSync(dir, 0o777)
    const r = await refusal("shared", `sqlite:${dir}/headtower.db`)
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain(`the data directory ${dir} is writable by other users`)
    expect(r.stderr).toContain(`chmod 700 ${dir}`)
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/)
  })

  it("a store writable by other users is refused", async () => {
    const dir = work.path("loose")
    mkdirSync(dir)
    chownSync(dir, user.uid, user.gid)
    const db = `${dir}/headtower.db`
    writeFileSync(db, "")
    chownSync(db, user.uid, user.gid)
    chmodSync(db, 0o666)
    const r = await refusal("loose", `sqlite:${db}`)
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain(`${db} is writable by other users`)
    expect(r.stderr).toContain(`chmod 600 ${db}`)
  })

  it("a store owned by another user is refused, even when the server could write it", async () => {
    const dir = work.path("foreign")
    mkdirSync(dir)
    chownSync(dir, user.uid, user.gid)
    const db = `${dir}/headtower.db`
    writeFileSync(db, "") // owned by root (the test), writable by the server's group only
    chownSync(db, 0, user.gid)
    chmodSync(db, 0o660)
    const r = await refusal("foreign", `sqlite:${db}`)
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain(`${db} belongs to uid 0, not to the user Headtower runs as (uid ${user.uid})`)
  })

  it("database.url through a symlink to a file another user owns is refused", async () => {
    const dir = work.path("linked")
    mkdirSync(dir)
    chownSync(dir, user.uid, user.gid)
    const target = work.path("other-users.db")
    writeFileSync(target, "")
    chownSync(target, 0, user.gid)
    chmodSync(target, 0o660)
    symlinkSync(target, `${dir}/headtower.db`)
    const r = await refusal("linked", `sqlite:${dir}/headtower.db`)
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain(`resolves to) ${target} belongs to uid 0`)
  })
})
