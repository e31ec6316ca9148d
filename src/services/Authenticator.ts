import { Effect, Either, Option } from "effect"
import type { HeadscaleCredentials } from "../domain/Headscale.js"
import { ClientNotAllowed, ProxyAuthDisabled, UserDisabled, type AuthenticationError } from "../domain/errors.js"
import type { RequestFacts } from "../domain/RequestFacts.js"
import type { User } from "../domain/User.js"
import { ClientIpResolver } from "./ClientIpResolver.js"
import { Settings } from "./Settings.js"
import { IdentityExtractor } from "./IdentityExtractor.js"
import { observeAuthentication, recordAuthenticated } from "./Metrics.js"
import { spans } from "./spans.js"
import { UserCache } from "./UserCache.js"

/** What a successful authentication hands to the rest of the request. */
export interface Authenticated {
  readonly user: User
  /** The credentials every Headscale call of this request uses: the configured API key. */
  readonly credentials: HeadscaleCredentials
  /** The resolved client address (canonical text), for audit entries. */
  readonly clientIp: string
}

/**
 * The trust boundary. Order matters and is the contract: client IP, then allowed_cidrs, then
 * the identity headers, then sign-in (provisioning) — so a request from outside allowed_cidrs learns
 * nothing about header problems, and nothing is written for any rejected request.
 */
export class Authenticator extends Effect.Service<Authenticator>()("headtower/Authenticator", {
  effect: Effect.gen(function* () {
    const { annotate, method, recording } = yield* spans
    const config = yield* Settings
    const { proxyAuth } = config.server
    const resolver = yield* ClientIpResolver
    const extractor = yield* IdentityExtractor
    const users = yield* UserCache
    // Decision 6 makes this unreachable with proxy auth on; the check keeps the invariant local.
    const credentials = Option.map(config.headscale.apiKey, (apiKey): HeadscaleCredentials => ({ apiKey }))

    /** `seen` collects what is known so far, so a rejection can be logged with it. */
    const decide = (facts: RequestFacts, seen: { clientIp?: string }) =>
      Effect.gen(function* () {
        if (!proxyAuth.enabled || Option.isNone(credentials)) {
          return yield* new ProxyAuthDisabled({ message: "proxy authentication is not enabled on this server" })
        }
        const ip = yield* resolver.resolve(facts)
        seen.clientIp = ip.clientIp.text
        const rule = proxyAuth.allowedCidrs.match(ip.clientIp)
        yield* annotate(() => ({
          "auth.peer": ip.peer.text,
          "auth.client_ip": ip.clientIp.text,
          "auth.allowed_rule": rule?.text ?? "none"
        }))
        if (rule === undefined) {
          return yield* new ClientNotAllowed({ message: "this client is not allowed to authenticate through the proxy" })
        }
        const profile = yield* extractor.extract(facts)
        // Usually answered from memory; the store is read or written only when something changed.
        const user = yield* users.signIn(profile, { clientIp: ip.clientIp.text })
        if (user.disabled) {
          return yield* new UserDisabled({ message: "this user has been disabled by a Headtower owner" })
        }
        yield* annotate(() => ({
          "auth.outcome": "authenticated",
          "auth.user_id": user.id,
          "auth.role": user.role,
          ...(config.telemetry.exportIdentity ? { "auth.identity": user.identity } : {})
        }))
        return { user, credentials: credentials.value, clientIp: ip.clientIp.text } satisfies Authenticated
      })

    /** The full decision, whatever the request: every rejection, store access and log line happens here. */
    const decideLogged = (facts: RequestFacts) => {
      const seen: { clientIp?: string } = {}
      return decide(facts, seen).pipe(
        // One structured line per rejected request: the reason, and what the server saw.
        Effect.tapError((error: AuthenticationError) =>
          Effect.all([
            annotate(() => ({ "auth.outcome": "rejected", "auth.reason": error._tag })),
            Effect.logWarning("proxy authentication rejected").pipe(
              Effect.annotateLogs({
                reason: error._tag,
                detail: error.message,
                peer: facts.peer ?? "unknown",
                client_ip: seen.clientIp ?? "unresolved"
              })
            )
          ])
        )
      )
    }

    /**
     * The common request without effects: an allowed client, well-formed identity headers with
     * nothing dropped, an enabled user the cache holds. It can only say yes — by `decide`'s
     * checks, in `decide`'s order — and says undefined for anything else, which `decide` then
     * judges from the start. On a miss the pure checks thus run twice (~1 µs, before a store read
     * of ~80 µs): the price of one code path for every rejection, log line and span.
     * (hostile/oracle.test.ts holds the two paths to the same answers.)
     */
    const fromCache = (facts: RequestFacts, now: number): Authenticated | undefined => {
      if (!proxyAuth.enabled || Option.isNone(credentials)) return undefined
      const ip = resolver.decide(facts)
      if (Either.isLeft(ip) || proxyAuth.allowedCidrs.match(ip.right.clientIp) === undefined) return undefined
      const read = extractor.read(facts)
      if (read._tag === "Rejected" || read.profile.dropped.length > 0) return undefined
      const user = users.recall(read.profile, now)
      if (user === undefined || user.disabled) return undefined
      return { user, credentials: credentials.value, clientIp: ip.right.clientIp.text }
    }

    /** Every authentication is counted and timed (headtower_authentications_total, …_duration_seconds). */
    const decideObserved = (facts: RequestFacts) => observeAuthentication(decideLogged(facts))

    const authenticate = method("Authenticator.authenticate")(
      // With spans recorded every request takes `decide`, so each step has its span; in quiet
      // mode a cached user costs one clock read (measured: ~15 µs → ~2 µs, docs/performance.md).
      recording
        ? decideObserved
        : (facts: RequestFacts) =>
          Effect.clockWith((clock) => {
            const start = performance.now()
            const cached = fromCache(facts, clock.unsafeCurrentTimeMillis())
            if (cached === undefined) return decideObserved(facts)
            recordAuthenticated(start)
            return Effect.succeed(cached)
          })
    )

    return { authenticate } as const
  }),
  // UserCache.Default is shared by reference with the users handler, which invalidates it.
  dependencies: [ClientIpResolver.Default, IdentityExtractor.Default, UserCache.Default]
}) {}
