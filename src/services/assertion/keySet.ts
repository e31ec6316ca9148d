import { createLocalJWKSet, errors, type JSONWebKeySet, type JWSHeaderParameters, type FlattenedJWSInput } from "jose"
import type { AssertionAlgorithm } from "../../domain/assertion/config.js"

/*
 * The identity provider's signing keys, held in memory and refreshed. Built on jose's
 * `createLocalJWKSet` (key selection by kid and alg, import, multiple candidates) with our own
 * loading rather than `createRemoteJWKSet`, because the load must be bounded in size, must
 * never follow a redirect, must report "unavailable" (for the 503 and /readyz) instead of only
 * throwing, and must read a file as well as a URL.
 *
 * Policy: keys are reloaded every `refreshEveryMs` (in the background), and on an unknown `kid`
 * at most once per `cooldownMs` (so invented kids cannot make every request fetch). After a
 * failed load the background retries every `cooldownMs` and the set counts as unavailable
 * (/readyz not ready); keys already held keep verifying for `maxAgeMs` after their last
 * successful load, and past that nothing verifies (503) until a load succeeds.
 */

export interface KeyTiming {
  readonly refreshEveryMs: number
  readonly cooldownMs: number
  readonly maxAgeMs: number
  readonly fetchTimeoutMs: number
}

export const DEFAULT_KEY_TIMING: KeyTiming = {
  refreshEveryMs: 10 * 60_000,
  cooldownMs: 30_000,
  maxAgeMs: 60 * 60_000,
  fetchTimeoutMs: 5_000
}

/** A key set is a few KiB (a handful of keys); anything much larger is not one. */
export const MAX_JWKS_BYTES = 256 * 1024

/** The keys cannot be loaded: nothing new can be verified (503). */
export class KeysUnavailable extends Error {
  override readonly name = "KeysUnavailable"
}

const KEY_TYPES = new Set(["RSA", "EC", "OKP"])

/** A key set's text, checked: JSON `{ "keys": [...] }` with at least one public signing key for `algorithms`. */
export const parseKeySet = (text: string, algorithms: ReadonlyArray<AssertionAlgorithm>): JSONWebKeySet => {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new Error("the answer is not JSON")
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys
  if (!Array.isArray(keys)) throw new Error(`the answer is not a JSON Web Key Set (no "keys" list)`)
  const usable = keys.filter(
    (k): k is JSONWebKeySet["keys"][number] =>
      typeof k === "object" &&
      k !== null &&
      KEY_TYPES.has((k as { kty?: unknown }).kty as string) &&
      // A private key published by mistake is refused whole: its "d" would make us a signer.
      !("d" in k) &&
      ((k as { use?: unknown }).use === undefined || (k as { use?: unknown }).use === "sig") &&
      ((k as { alg?: unknown }).alg === undefined || algorithms.includes((k as { alg: AssertionAlgorithm }).alg))
  )
  if (usable.length === 0) {
    throw new Error(
      keys.length === 0
        ? "the key set is empty (an identity provider without a signing key publishes one, e.g. authentik signing with HS256)"
        : `the key set has no public signing key for ${algorithms.join(", ")}`
    )
  }
  return { keys: usable }
}

/** GET the key set: no redirect followed, at most MAX_JWKS_BYTES, within the deadline. */
export const fetchKeySetText = async (url: string, timeoutMs: number): Promise<string> => {
  const response = await fetch(url, {
    redirect: "manual",
    signal: AbortSignal.timeout(timeoutMs),
    headers: { accept: "application/jwk-set+json, application/json" }
  }).catch((e: unknown) => {
    throw new Error(e instanceof Error && e.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : reasonOf(e))
  })
  if (response.status >= 300 && response.status < 400) {
    void response.body?.cancel()
    throw new Error(`answered ${response.status} (a redirect); redirects are not followed: configure the final URL`)
  }
  if (response.status !== 200) {
    void response.body?.cancel()
    throw new Error(`answered HTTP ${response.status}`)
  }
  if (Number(response.headers.get("content-length") ?? 0) > MAX_JWKS_BYTES) {
    void response.body?.cancel()
    throw new Error(`the answer is larger than ${MAX_JWKS_BYTES / 1024} KiB`)
  }
  const chunks: Array<Uint8Array> = []
  let size = 0
  try {
    const reader = response.body!.getReader()
    for (let next = await reader.read(); !next.done; next = await reader.read()) {
      const chunk = next.value
      size += chunk.byteLength
      if (size > MAX_JWKS_BYTES) throw new Error(`the answer is larger than ${MAX_JWKS_BYTES / 1024} KiB`)
      chunks.push(chunk)
    }
  } catch (e) {
    void response.body?.cancel().catch(() => {})
    throw new Error(e instanceof Error && e.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : reasonOf(e))
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks))
  } catch {
    throw new Error("the answer is not UTF-8")
  }
}

export const reasonOf = (e: unknown): string => {
  if (!(e instanceof Error)) return String(e)
  const cause = (e as { cause?: unknown }).cause
  // fetch's "fetch failed" hides the reason (ECONNREFUSED, a TLS error) in its cause.
  return cause instanceof Error ? `${e.message}: ${cause.message}` : e.message
}

export type LoadOutcome =
  | { readonly ok: true; readonly keys: number; readonly trigger: string }
  | { readonly ok: false; readonly reason: string; readonly trigger: string }

type Selector = ReturnType<typeof createLocalJWKSet>

export interface KeySet {
  /** jose's key resolver: the key for a token's header, reloading once on an unknown kid (cooldown permitting). */
  readonly getKey: (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey>
  /** Loads now (deduplicated with a load in flight); false when it failed. */
  readonly reload: (trigger: string) => Promise<boolean>
  /** Undefined when the keys are usable and the last load worked; otherwise why not. */
  readonly unavailable: () => string | undefined
  /** How long until the background should load again. */
  readonly nextLoadInMs: () => number
}

/** Starts from a key set already loaded (start-up fails without one). */
export const makeKeySet = (options: {
  readonly initial: JSONWebKeySet
  readonly load: () => Promise<JSONWebKeySet>
  readonly now: () => number
  readonly timing: KeyTiming
  readonly report: (outcome: LoadOutcome) => void
}): KeySet => {
  const { load, now, report, timing } = options
  let select: Selector = createLocalJWKSet(options.initial)
  let loadedAt = now()
  let attemptedAt = loadedAt
  let failure: string | undefined
  let inFlight: Promise<boolean> | undefined

  const reload = (trigger: string): Promise<boolean> => {
    if (inFlight !== undefined) return inFlight
    attemptedAt = now()
    inFlight = load().then(
      (jwks) => {
        select = createLocalJWKSet(jwks)
        loadedAt = now()
        failure = undefined
        inFlight = undefined
        report({ ok: true, keys: jwks.keys.length, trigger })
        return true
      },
      (e: unknown) => {
        failure = reasonOf(e)
        inFlight = undefined
        report({ ok: false, reason: failure, trigger })
        return false
      }
    )
    return inFlight
  }

  const expired = () => failure !== undefined && now() - loadedAt > timing.maxAgeMs

  const getKey = async (header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> => {
    if (expired()) throw new KeysUnavailable(`the signing keys could not be reloaded: ${failure}`)
    try {
      return await select(header, token)
    } catch (e) {
      if (!(e instanceof errors.JWKSNoMatchingKey)) throw e
      if (now() - attemptedAt >= timing.cooldownMs) {
        const loaded = await reload(`unknown key ${JSON.stringify(header.kid ?? "(no kid)")}`)
        if (loaded) return select(header, token)
      }
      // Not a key we know, and the key server cannot tell us whether it is a new one.
      if (failure !== undefined) throw new KeysUnavailable(`the signing keys could not be reloaded: ${failure}`)
      throw e
    }
  }

  return {
    getKey,
    reload,
    unavailable: () => failure,
    nextLoadInMs: () =>
      Math.max(0, (failure === undefined ? timing.refreshEveryMs : timing.cooldownMs) - (now() - attemptedAt))
  }
}
