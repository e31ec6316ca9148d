import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { execFile, execFileSync, spawn } from "node:child_process"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer, type Socket } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { freePort, rawRequest } from "../e2e/support/net.js"

/* The `headtower` command as operators run it: a real process, real exit codes. */

const ROOT = join(import.meta.dirname, "..", "..")
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("HEADTOWER_")))

const headtower = (args: ReadonlyArray<string>, extraEnv: Record<string, string> = {}) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "src/main.ts", ...args],
      { cwd: ROOT, env: { ...env, ...extraEnv } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr })
    )
  })

let dir: string
const file = (name: string, text: string) => {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "headtower-cli-"))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const GOOD = (db: string) => `
headscale: { api_key: "hskey-api-cli-secret-value" }
server:
  proxy_auth:
    enabled: true
    ip_header: X-Forwarded-For
    trusted_proxy_cidrs: ["127.0.0.1/32"]
    allowed_cidrs: ["10.0.0.0/8"]
database: { url: "sqlite:${db}" }
`

// Each call starts a fresh Node with tsx: seconds on a quiet machine, far more on a busy one.
const SLOW = { timeout: 180_000 }

describe("headtower check-config", SLOW, () => {
  it("prints the effective config with the API key redacted, and the warnings; exit 0", async () => {
    const r = await headtower(["check-config", "--config", file("good.yaml", GOOD(join(dir, "x.db")))])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain("api_key: <redacted>")
    expect(r.stdout).not.toContain("hskey-api-cli-secret-value")
    expect(r.stdout).toContain("- 10.0.0.0/8")
    expect(r.stdout).toContain("server.proxy_auth.ip_header_mode")
  })

  it("exits non-zero on errors and names each key path, without a stack trace", async () => {
    const r = await headtower([
      "check-config",
      "--config",
      file(
        "bad.yaml",
        `server: { proxy_auth: { enabled: true, allowed_cidr: ["10.0.0.0/8"], user_header: "Bad Header" } }`
      )
    ])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain('server.proxy_auth.allowed_cidr: unknown key; did you mean "allowed_cidrs"?')
    expect(r.stderr).toContain("server.proxy_auth.user_header")
    expect(r.stderr).toContain("headscale.api_key")
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/)
  })

  it("secrets in URLs are redacted: headscale.url, telemetry.otlp_endpoint, a PostgreSQL URL, parsed or not", async () => {
    const printed = await headtower([
      "check-config",
      "--config",
      file(
        "urls.yaml",
        `
headscale: { url: "https://hsuser:hs-url-secret@hs.example.com" }
telemetry: { otlp_endpoint: "https://otlp:otlp-url-secret@collector.example.com:4318" }
database: { url: "postgres://headtower:pg-url-secret@db.example.com/headtower?password=pg-query-secret" }
`
      )
    ])
    expect(printed.code).toBe(0)
    expect(printed.stdout).toContain("url: https://***@hs.example.com")
    expect(printed.stdout).toContain("otlp_endpoint: https://***@collector.example.com:4318")
    expect(printed.stdout).toContain("postgres://***@db.example.com/headtower?password=***")
    expect(printed.stdout).not.toMatch(/secret/)

    // URLs that do not parse: the password holds "@", "%", a space; the port is not a number.
    const refused = await headtower([
      "check-config",
      "--config",
      file(
        "bad-urls.yaml",
        `
headscale: { url: "https://hsuser:hs@se%cret@hs.example.com:port" }
telemetry: { otlp_endpoint: "https://otlp:ot lp@secret@collector:port" }
database: { url: "postgres://headtower:pg@sec ret@db.example.com:port/headtower" }
`
      )
    ])
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toContain(
      'database.url: must be "sqlite:<path>" or "postgres://user@host/db", got "postgres://***@db.example.com:port/headtower"'
    )
    expect(refused.stderr).toContain("headscale.url")
    expect(refused.stderr).toContain("telemetry.otlp_endpoint")
    expect(refused.stderr).not.toMatch(/se%cret|secret|sec ret|ot lp/)
  })

  it("a --config file that does not exist is an error", async () => {
    const r = await headtower(["check-config", "--config", join(dir, "missing.yaml")])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain("cannot read")
  })

  it("HEADTOWER_CONFIG names the file when --config is absent", async () => {
    const path = file("via-env.yaml", `server: { listen: "127.0.0.1:4555" }`)
    const r = await headtower(["check-config"], { HEADTOWER_CONFIG: path })
    expect(r.code).toBe(0)
    expect(r.stdout).toContain("listen: 127.0.0.1:4555")
  })
})

describe("files read at start-up", SLOW, () => {
  const fifo = (name: string) => {
    const path = join(dir, name)
    execFileSync("mkfifo", [path])
    return path
  }

  it("a config file that is a FIFO is refused as not a regular file, without waiting for a writer", async () => {
    const path = fifo("config.fifo")
    const viaEnv = await headtower(["check-config"], { HEADTOWER_CONFIG: path })
    expect(viaEnv.code).not.toBe(0)
    expect(viaEnv.stderr).toContain("cannot read: a FIFO, not a regular file")
    const viaOption = await headtower(["check-config", "--config", path])
    expect(viaOption.code).not.toBe(0)
    expect(viaOption.stderr).toContain(`Expected path '${path}' to be a regular file`)
  })

  it("HEADTOWER_CONFIG naming /dev/zero is refused as a device", async () => {
    const r = await headtower(["check-config"], { HEADTOWER_CONFIG: "/dev/zero" })
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain("cannot read: a device, not a regular file")
  })

  it("headscale.api_key_path naming a FIFO or /dev/zero is refused", async () => {
    for (const keyPath of [fifo("key.fifo"), "/dev/zero"]) {
      const r = await headtower([
        "check-config",
        "--config",
        file("key-special.yaml", `headscale: { api_key_path: "${keyPath}" }`)
      ])
      expect(r.code).not.toBe(0)
      expect(r.stderr).toMatch(/headscale\.api_key_path: cannot read ".*": a (FIFO|device), not a regular file/)
    }
  })

  it("a 64 MiB key file is refused by its size, not read whole", async () => {
    const key = file("huge.key", "k".repeat(64 * 1024 * 1024))
    const r = await headtower([
      "check-config",
      "--config",
      file("key-huge.yaml", `headscale: { api_key_path: "${key}" }`)
    ])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain("67108864 bytes, more than the 4 KiB such a file may hold")
  })

  it("a config file over 1 MiB is refused by its size", async () => {
    const r = await headtower(["check-config", "--config", file("huge.yaml", `# ${"x".repeat(2 * 1024 * 1024)}\n`)])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain("more than the 1024 KiB such a file may hold")
  })

  it("SIGTERM during start-up (the user store not answering) ends the process, exit 0", async () => {
    // A "PostgreSQL" that accepts and never answers: start-up waits on it.
    const sockets = new Set<Socket>()
    let connected: () => void = () => {}
    const reached = new Promise<void>((resolve) => (connected = resolve))
    const silent = createServer((socket) => {
      sockets.add(socket)
      connected()
    })
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve))
    const pgPort = (silent.address() as { port: number }).port
    const path = file(
      "silent-pg.yaml",
      `database: { url: "postgres://headtower@127.0.0.1:${pgPort}/headtower" }\nserver: { listen: "127.0.0.1:0" }`
    )
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", "serve", "--config", path], {
      cwd: ROOT,
      env,
      stdio: "ignore"
    })
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
    try {
      await reached
      child.kill("SIGTERM")
      expect(await exited).toBe(0)
    } finally {
      child.kill("SIGKILL")
      for (const socket of sockets) socket.destroy()
      silent.close()
    }
  })
})

describe("what reaches the operator's terminal", SLOW, () => {
  // OSC 0 (retitle), CSI 2J (clear), a bidi override: none may reach the terminal raw.
  const HOSTILE = "\x1b]0;pwned\x07\x1b[2J\u202e"
  const RAW = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]/

  it("explain --peer: escape sequences in the peer are printed as escapes", async () => {
    const r = await headtower([
      "explain",
      "--config",
      file("esc.yaml", GOOD(join(dir, "esc.db"))),
      "--peer",
      `10.0.0.1${HOSTILE}`,
      "-H",
      "Remote-User: alice"
    ])
    expect(r.stdout + r.stderr).not.toMatch(RAW)
    expect(r.stdout).toContain("\\x1b]0;pwned\\x07\\x1b[2J\\u{202e}")
  })

  it("check-config: a YAML key name and a HEADTOWER_ variable name with escape sequences are printed as escapes", async () => {
    const r = await headtower(["check-config", "--config", file("esc-key.yaml", `server: { "\\e]0;pwned\\a": 1 }`)], {
      [`HEADTOWER_X${HOSTILE}`]: "1"
    })
    expect(r.code).not.toBe(0)
    expect(r.stdout + r.stderr).not.toMatch(RAW)
    expect(r.stderr).toContain("server.\\x1b]0;pwned\\x07: unknown key")
    expect(r.stderr).toContain("HEADTOWER_X\\x1b]0;pwned\\x07\\x1b[2J\\u{202e}: unknown variable")
  })

  it("a 1 MiB config value is cut in the error, with a marker and its length", async () => {
    const r = await headtower([
      "check-config",
      "--config",
      file("long.yaml", `server: { listen: "${"x".repeat(1_000_000)}" }`)
    ])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain("server.listen")
    // The message quoting the value is cut: the marker gives the whole message's length.
    expect(r.stderr).toMatch(/…\[100\d{4} characters\]/)
    expect(r.stderr.length).toBeLessThan(5_000)
  })
})

describe("headtower explain", SLOW, () => {
  const config = () => file("explain.yaml", GOOD(join(dir, "explain.db")))

  it("walks a trusted proxy's forwarded client through every step, writing nothing", async () => {
    const db = join(dir, "explain.db")
    const r = await headtower([
      "explain",
      "--config",
      config(),
      "--peer",
      "::ffff:127.0.0.1",
      "-H",
      "X-Forwarded-For: 10.1.2.3",
      "-H",
      "Remote-User: alice"
    ])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain("peer is a trusted proxy (matches 127.0.0.1/32)")
    expect(r.stdout).toContain('client IP: 10.1.2.3, from the entry "10.1.2.3"')
    expect(r.stdout).toContain("allowed_cidrs: 10.1.2.3 is allowed by 10.0.0.0/8")
    expect(r.stdout).toContain("identity: proxy:alice")
    expect(r.stdout).toContain("would be created as OWNER")
    expect(r.stdout).toContain("=> 200 Authenticated (nothing was written)")
    expect(existsSync(db)).toBe(false)
  })

  it("prints the groups it read and the role they map to (role_mapping), writing nothing", async () => {
    const db = join(dir, "explain-groups.db")
    const mapped = GOOD(db).replace(
      "    allowed_cidrs:",
      "    groups_header: Remote-Groups\n    role_mapping: { admin: [ops], auditor: [audit] }\n    allowed_cidrs:"
    )
    const r = await headtower([
      "explain",
      "--config",
      file("explain-groups.yaml", mapped),
      "--peer",
      "127.0.0.1",
      "-H",
      "X-Forwarded-For: 10.1.2.3",
      "-H",
      "Remote-User: alice",
      "-H",
      "Remote-Groups: dev, audit,ops"
    ])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('groups: "dev", "audit", "ops" (from Remote-Groups)')
    expect(r.stdout).toContain("role mapping: admin (groups: ops)")
    expect(r.stdout).toContain("would be created as OWNER")
    expect(existsSync(db)).toBe(false)
  })

  it("says why a client is refused", async () => {
    const r = await headtower([
      "explain",
      "--config",
      config(),
      "--peer",
      "192.0.2.5",
      "-H",
      "X-Forwarded-For: 10.1.2.3",
      "-H",
      "Remote-User: alice"
    ])
    expect(r.stdout).toContain("ignored because the peer is not in trusted_proxy_cidrs")
    expect(r.stdout).toContain("192.0.2.5 is in none of 10.0.0.0/8")
    expect(r.stdout).toContain("=> 403 ClientNotAllowed")
  })

  it("an identity header given twice is explained as ambiguous", async () => {
    const r = await headtower([
      "explain",
      "--config",
      config(),
      "--peer",
      "127.0.0.1",
      "-H",
      "X-Forwarded-For: 10.0.0.1",
      "-H",
      "Remote-User: a",
      "-H",
      "remote-user: b"
    ])
    expect(r.stdout).toContain("Remote-User was sent 2 times")
    expect(r.stdout).toContain("=> 400 AmbiguousHeader")
  })
})

describe("headtower serve", SLOW, () => {
  it("logs one JSON line per rejected request (reason, peer, client IP), serves until SIGTERM, then exits 0", async () => {
    const port = await freePort()
    const path = file(
      "serve.yaml",
      `${GOOD(join(dir, "serve.db"))}\n`.replace("server:", `server:\n  listen: "127.0.0.1:${port}"`)
    )
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", "serve", "--config", path], {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "inherit"]
    })
    let stdout = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")))
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
    try {
      let healthy = false
      for (let i = 0; i < 300 && !healthy; i++) {
        healthy = await rawRequest({ port, path: "/healthz" }).then(
          (r) => r.status === 200,
          () => false
        )
        if (!healthy) await new Promise((r) => setTimeout(r, 100))
      }
      expect(healthy).toBe(true)
      const refused = await rawRequest({
        port,
        path: "/api/me",
        localAddress: "127.0.0.3",
        headers: [["Remote-User", "eve"]]
      })
      expect(refused.status).toBe(403)
      child.kill("SIGTERM")
      expect(await exited).toBe(0)
      await expect(rawRequest({ port, path: "/healthz" })).rejects.toThrow()
      const rejections = stdout
        .split("\n")
        .filter((line) => line.includes("proxy authentication rejected"))
        .map((line) => JSON.parse(line))
      expect(rejections).toEqual([
        expect.objectContaining({
          logLevel: "WARN",
          annotations: expect.objectContaining({
            reason: "ClientNotAllowed",
            peer: "127.0.0.3",
            client_ip: "127.0.0.3"
          })
        })
      ])
    } finally {
      child.kill("SIGKILL")
    }
  })
})
