import { Effect, Layer, ManagedRuntime } from "effect"
import { exportJWK, generateKeyPair, SignJWT } from "jose"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { requestFacts } from "../src/domain/RequestFacts.js"
import { Authenticator } from "../src/services/Authenticator.js"
import { DatabaseLive } from "../src/services/Database.js"
import { Settings } from "../src/services/Settings.js"
import { quietTracer } from "../src/services/spans.js"
import { UserRepository } from "../src/services/UserRepository.js"
import { median } from "./stats.js"
import { benchConfig, tempDir } from "./store.js"

/*
 * authenticate in assertion mode, in this process: the production Authenticator over a SQLite
 * file, an RS256 key set read from a file (jwks_file), tokens signed beforehand with jose (the
 * signing is not measured). Two figures: a known token (answered from the token memory and
 * the user cache: no signature check), and new tokens, each verified once (RS256 signature,
 * claims) for a user already known.
 */

const ISSUER = "https://bench.cloudflareaccess.com"
const AUDIENCE = "bench-aud"
const HEADER = "cf-access-jwt-assertion"

const setUp = async (dir: string) => {
  const { privateKey, publicKey } = await generateKeyPair("RS256")
  const jwksFile = join(dir, "jwks.json")
  writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "bench", alg: "RS256" }] }))
  const base = benchConfig(join(dir, "assertion.db"), 3600)
  const config = {
    ...base,
    server: {
      ...base.server,
      proxyAuth: {
        ...base.server.proxyAuth,
        assertion: {
          header: "Cf-Access-Jwt-Assertion",
          issuer: ISSUER,
          audience: [AUDIENCE],
          keySource: { kind: "file" as const, path: jwksFile },
          algorithms: ["RS256" as const],
          clockToleranceSeconds: 30,
          identityClaim: "sub",
          emailClaim: "email",
          nameClaim: "name",
          pictureClaim: "picture"
        }
      }
    }
  }
  const runtime = ManagedRuntime.make(
    Authenticator.Default.pipe(
      Layer.provideMerge(UserRepository.Default),
      Layer.provideMerge(DatabaseLive),
      Layer.provideMerge(Layer.succeed(Settings, config)),
      Layer.provide(Layer.setTracer(quietTracer))
    )
  )
  const now = Math.floor(Date.now() / 1000)
  const sign = (jti: string) =>
    new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: "bench-user", email: "bench-user@example.com", jti })
      .setProtectedHeader({ alg: "RS256", kid: "bench" })
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(privateKey)
  return { runtime, sign }
}

const authenticateAll = (facts: ReadonlyArray<ReturnType<typeof requestFacts>>) =>
  Effect.gen(function* () {
    const auth = yield* Authenticator
    for (const request of facts) yield* auth.authenticate(request)
  }).pipe(Effect.withTracer(quietTracer))

const factsOf = (token: string) =>
  requestFacts("127.0.0.1", [
    [HEADER, token],
    ["host", "127.0.0.1"],
    ["accept", "application/json"]
  ])

/**
 * Median rates of `runs` timed runs of `count` operations, by wall clock and per CPU-second;
 * `prepare` (not timed) makes each run.
 */
const rates = async (runs: number, count: number, prepare: (run: number) => Promise<() => Promise<unknown>>) => {
  const wall: Array<number> = []
  const cpuRates: Array<number> = []
  for (let r = 0; r < runs; r++) {
    const run = await prepare(r)
    const start = performance.now()
    const cpu = process.cpuUsage()
    await run()
    const { system, user } = process.cpuUsage(cpu)
    wall.push(count / ((performance.now() - start) / 1000))
    cpuRates.push(count / ((user + system) / 1e6))
  }
  return { perSecond: median(wall), perCpuSecond: median(cpuRates) }
}

/** The same token again and again: memory answers, no signature check. */
export const benchKnownToken = async (options: { runs: number; calls: number }) => {
  const tmp = tempDir()
  const { runtime, sign } = await setUp(tmp.dir)
  try {
    const facts = factsOf(await sign("known"))
    const loop = (calls: number) =>
      Effect.gen(function* () {
        const auth = yield* Authenticator
        for (let i = 0; i < calls; i++) yield* auth.authenticate(facts)
      }).pipe(Effect.withTracer(quietTracer))
    await runtime.runPromise(loop(20_000)) // first verification, sign-up, warm-up
    return await rates(options.runs, options.calls, async () => () => runtime.runPromise(loop(options.calls)))
  } finally {
    await runtime.dispose()
    tmp.remove()
  }
}

/** A new token each call (a known user): one RS256 verification each. */
export const benchNewTokens = async (options: { runs: number; tokens: number }) => {
  const tmp = tempDir()
  const { runtime, sign } = await setUp(tmp.dir)
  try {
    const batch = async (label: string) => {
      const facts = []
      for (let i = 0; i < options.tokens; i++) facts.push(factsOf(await sign(`${label}-${i}`)))
      return facts
    }
    await runtime.runPromise(authenticateAll(await batch("warm-up")))
    return await rates(options.runs, options.tokens, async (r) => {
      const facts = await batch(`run-${r}`)
      return () => runtime.runPromise(authenticateAll(facts))
    })
  } finally {
    await runtime.dispose()
    tmp.remove()
  }
}
