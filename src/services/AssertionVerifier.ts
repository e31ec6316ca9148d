import { Context, Effect, Either, Runtime } from "effect"
import type { JSONWebKeySet } from "jose"
import type { AssertionConfig } from "../domain/assertion/config.js"
import { type AssertionLookup, type AssertionRead, readAssertionToken } from "../domain/assertion/read.js"
import type { RequestFacts } from "../domain/RequestFacts.js"
import {
  DEFAULT_KEY_TIMING,
  fetchKeySetText,
  type KeyTiming,
  type LoadOutcome,
  makeKeySet,
  MAX_JWKS_BYTES,
  parseKeySet,
  reasonOf
} from "./assertion/keySet.js"
import { tokenMemory } from "./assertion/tokenMemory.js"
import { verifyAssertion } from "./assertion/verify.js"
import { ConfigError, Settings } from "./Settings.js"
import { spans } from "./spans.js"
import { readStartupFile } from "./startupFile.js"

/*
 * The assertion step's effects: the signing keys (loaded at start-up, refreshed, fail closed),
 * verification with jose, and the memory of verified tokens. `read` is the judgement's step
 * decision (pure and synchronous: a known token is answered from memory); `verify` settles a
 * judgement left pending on an unknown token.
 */

/** How often the keys are reloaded; tests shorten it. */
export class AssertionKeyTiming extends Context.Reference<AssertionKeyTiming>()("headtower/AssertionKeyTiming", {
  defaultValue: (): KeyTiming => DEFAULT_KEY_TIMING
}) {}

const BASE = "server.proxy_auth.assertion"

const keySourcePath = (config: AssertionConfig) =>
  `${BASE}.${config.keySource.kind === "url" ? "jwks_url" : "jwks_file"}`

/** Where the keys come from, read and checked; rejects with the reason. */
const keyLoader = (config: AssertionConfig, timing: KeyTiming) => {
  const { algorithms, keySource } = config
  return keySource.kind === "url"
    ? (): Promise<JSONWebKeySet> =>
        fetchKeySetText(keySource.url, timing.fetchTimeoutMs).then((text) => parseKeySet(text, algorithms))
    : (): Promise<JSONWebKeySet> =>
        Effect.runPromise(readStartupFile(keySource.path, MAX_JWKS_BYTES)).then((text) =>
          Either.match(text, {
            onLeft: (reason) => Promise.reject(new Error(`cannot read ${JSON.stringify(keySource.path)}: ${reason}`)),
            onRight: (json) => parseKeySet(json, algorithms)
          })
        )
}

const logLoad = (source: string, outcome: LoadOutcome) =>
  outcome.ok
    ? Effect.logInfo("assertion signing keys loaded").pipe(
        Effect.annotateLogs({ source, keys: outcome.keys, trigger: outcome.trigger })
      )
    : Effect.logWarning("assertion signing keys could not be loaded: new tokens are refused (503)").pipe(
        Effect.annotateLogs({ source, reason: outcome.reason, trigger: outcome.trigger })
      )

const off = {
  read: (_facts: RequestFacts): AssertionLookup => {
    throw new Error("AssertionVerifier.read: assertion mode is not configured")
  },
  verify: (_token: string): Effect.Effect<AssertionRead> =>
    Effect.dieMessage("AssertionVerifier.verify: assertion mode is not configured"),
  /** Why new tokens cannot be verified (keys not loaded), or undefined. */
  unavailable: (): string | undefined => undefined
}

const make = (config: AssertionConfig) =>
  Effect.gen(function* () {
    const timing = yield* AssertionKeyTiming
    const clock = yield* Effect.clock
    const now = () => clock.unsafeCurrentTimeMillis()
    const { method } = yield* spans
    const load = keyLoader(config, timing)
    const source = keySourcePath(config)
    const initial = yield* Effect.tryPromise(load).pipe(
      Effect.mapError(
        (e) =>
          new ConfigError({
            source: BASE,
            issues: [{ path: source, message: `the signing keys could not be loaded: ${reasonOf(e.cause)}` }]
          })
      )
    )
    const runFork = Runtime.runFork(yield* Effect.runtime())
    const keys = makeKeySet({ initial, load, now, timing, report: (outcome) => void runFork(logLoad(source, outcome)) })
    yield* logLoad(source, { ok: true, keys: initial.keys.length, trigger: "start-up" })
    // Reloads in the background: a request never waits for one (except an unknown kid's).
    yield* Effect.suspend(() => Effect.sleep(keys.nextLoadInMs())).pipe(
      Effect.zipRight(Effect.promise(() => keys.reload("scheduled"))),
      Effect.forever,
      Effect.forkScoped
    )

    const memory = tokenMemory()

    /** The step decision: the header read once (readAssertionToken), then a known, unexpired token from memory (no signature). */
    const read = (facts: RequestFacts): AssertionLookup => {
      const lookup = readAssertionToken(config, facts)
      return lookup._tag === "Unverified" ? (memory.recall(lookup.token, now()) ?? lookup) : lookup
    }

    const verify = method("AssertionVerifier.verify")((token: string): Effect.Effect<AssertionRead> =>
      Effect.promise(() => verifyAssertion(config, keys, token, now())).pipe(
        Effect.tap((verified) => {
          if (verified._tag === "Ok") memory.remember(token, verified, now())
        })
      )
    )

    return { read, verify, unavailable: keys.unavailable }
  })

export class AssertionVerifier extends Effect.Service<AssertionVerifier>()("headtower/AssertionVerifier", {
  scoped: Effect.flatMap(Settings, (settings) =>
    settings.server.proxyAuth.enabled && settings.server.proxyAuth.assertion !== undefined
      ? make(settings.server.proxyAuth.assertion)
      : Effect.succeed(off)
  )
}) {}
