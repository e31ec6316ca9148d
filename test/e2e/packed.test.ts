import { execFile } from "node:child_process"
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeWorkDir } from "./support/workdir.js"

/*
 * The package as it would be published: `npm pack` (which builds first), the tarball's file
 * list, then the tarball unpacked as node_modules/headtower of a scratch project, a consumer
 * compiled against its types and run. The scratch project's other dependencies are links to
 * this repository's installed ones: this machine cannot download better-sqlite3's native build.
 */

const ROOT = join(import.meta.dirname, "..", "..")
const run = promisify(execFile)
const work = makeWorkDir("packed")
let files: ReadonlyArray<string> = []
let size = 0

const consumer = `
import { Effect } from "effect"
import { Authenticator, ProxyAuthLive, requestFacts, statusOf, type AuthenticationError } from "headtower"
import { testConfig } from "headtower/testing"

const facts = (peer: string) => requestFacts(peer, [["Remote-User", "alice"]])
const program = Effect.gen(function* () {
  const auth = yield* Authenticator
  const alice = yield* auth.authenticate(facts("127.0.0.1"))
  const refused = yield* Effect.flip(auth.authenticate(facts("192.0.2.1")))
  const status: number = statusOf(refused satisfies AuthenticationError)
  console.log(JSON.stringify({ identity: alice.user.identity, role: alice.user.role, refused: refused._tag, status }))
})
await Effect.runPromise(Effect.scoped(program.pipe(Effect.provide(ProxyAuthLive(testConfig())))))
`

beforeAll(async () => {
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", work.dir], { cwd: ROOT })
  const packed = JSON.parse(stdout)[0] as { filename: string; size: number; files: Array<{ path: string }> }
  files = packed.files.map((file) => file.path)
  size = packed.size
  const app = join(work.dir, "app")
  const installed = join(app, "node_modules", "headtower")
  mkdirSync(installed, { recursive: true })
  await run("tar", ["-xzf", join(work.dir, packed.filename), "-C", installed, "--strip-components=1"])
  for (const name of readdirSync(join(ROOT, "node_modules"))) {
    if (name !== "headtower" && name !== ".bin")
      symlinkSync(join(ROOT, "node_modules", name), join(app, "node_modules", name))
  }
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "consumer", type: "module", private: true }))
  writeFileSync(
    join(app, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        exactOptionalPropertyTypes: true,
        types: ["node"],
        skipLibCheck: false,
        outDir: "out"
      },
      include: ["consumer.ts"]
    })
  )
  writeFileSync(join(app, "consumer.ts"), consumer)
}, 180_000)

afterAll(() => work.remove())

describe("the packed tarball", () => {
  it("holds the compiled library, its types, the CLI and the README; no sources, tests or bench results", () => {
    expect(files).toEqual(expect.arrayContaining(["README.md", "bin/headtower.js", "dist/index.js", "dist/index.d.ts"]))
    expect(files).toEqual(expect.arrayContaining(["dist/testing/index.js", "dist/testing/index.d.ts", "dist/main.js"]))
    const outside = files.filter(
      (file) =>
        !/^(dist\/.*\.(js|d\.ts)|bin\/headtower\.js|web\/[^/]+|README\.md|package\.json|headtower\.yaml)$/.test(file)
    )
    expect(outside).toEqual([])
    expect(files.filter((file) => /^(src|test|bench|examples|docs)\/|^dist\/bench\/|\.map$/.test(file))).toEqual([])
    console.log(`packed: ${files.length} files, ${size} bytes`)
  })

  it("a consumer compiles against its types and runs: alice signs in, a stranger is refused 403", async () => {
    const app = join(work.dir, "app")
    await run(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"], {
      cwd: app
    })
    const { stdout } = await run(process.execPath, [join(app, "out", "consumer.js")], { cwd: app })
    expect(JSON.parse(stdout.trim().split("\n").at(-1)!)).toEqual({
      identity: "proxy:alice",
      role: "owner",
      refused: "ClientNotAllowed",
      status: 403
    })
  })

  it("a path into the package that its exports do not name cannot be imported", async () => {
    const app = join(work.dir, "app")
    const deep = run(
      process.execPath,
      ["--input-type=module", "-e", 'await import("headtower/dist/services/Settings.js")'],
      {
        cwd: app
      }
    )
    await expect(deep).rejects.toThrow(/ERR_PACKAGE_PATH_NOT_EXPORTED/)
  })

  it("the CLI runs from the installed package", async () => {
    const app = join(work.dir, "app")
    const { stdout } = await run(
      process.execPath,
      [join(app, "node_modules", "headtower", "bin", "headtower.js"), "--help"],
      {
        cwd: app
      }
    )
    expect(stdout).toContain("check-config")
  })
})
