import { Effect, Option } from "effect"
import type { AssertionConfig } from "../domain/assertion/config.js"
import type { ClientIpDecision } from "../domain/ClientIp.js"
import type { AuthenticationError } from "../domain/errors.js"
import type { HeadscaleCredentials } from "../domain/Headscale.js"
import type { RequestFacts } from "../domain/RequestFacts.js"
import {
  admitUser,
  type Judgement,
  judgeTrust,
  type Pending,
  settle,
  type StepDecisions,
  trustSettings
} from "../domain/trust.js"
import type { User } from "../domain/User.js"
import { assertionLogFields } from "./assertion/log.js"
import { AssertionVerifier } from "./AssertionVerifier.js"
import { ClientIpResolver } from "./ClientIpResolver.js"
import { IdentityExtractor } from "./IdentityExtractor.js"
import { observeAuthentication, recordAuthenticated } from "./Metrics.js"
import { Settings } from "./Settings.js"
import { type Spans, spans } from "./spans.js"
import { rejectionLogBudget } from "./rejectionLog.js"
import { replaySteps } from "./trustSteps.js"
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
 * One structured line per rejected request (the reason, and what the server saw), within each
 * source's log budget (rejectionLog.ts); the span and the metric record every rejection.
 */
const logRejection = (
  { annotate }: Spans,
  budget: ReturnType<typeof rejectionLogBudget>,
  facts: RequestFacts,
  judgement: Judgement,
  error: AuthenticationError,
  assertion: AssertionConfig | undefined
) =>
  Effect.zipRight(
    annotate(() => ({ "auth.outcome": "rejected", "auth.reason": error._tag })),
    Effect.clockWith((clock) => {
      const peer = facts.peer ?? "unknown"
      const clientIp = judgement.client?.clientIp.text ?? "unresolved"
      const verdict = budget(`${error._tag} ${peer} ${clientIp}`, clock.unsafeCurrentTimeMillis())
      if (!verdict.write) return Effect.void
      return Effect.logWarning("proxy authentication rejected").pipe(
        Effect.annotateLogs({
          reason: error._tag,
          detail: error.message,
          peer,
          client_ip: clientIp,
          ...assertionLogFields(judgement, assertion),
          ...(verdict.suppressed > 0 ? { suppressed: verdict.suppressed } : {})
        })
      )
    })
  )

/** The decision on authenticate's span; the identity only if the operator opted in (telemetry.export_identity). */
const authenticatedAttributes = (user: User, exportIdentity: boolean) => ({
  "auth.outcome": "authenticated",
  "auth.user_id": user.id,
  "auth.role": user.role,
  ...(exportIdentity ? { "auth.identity": user.identity } : {})
})

/**
 * The common request without effects: trusted, nothing dropped, an enabled user the cache
 * holds. Undefined for anything else, which the full path then finishes from the same
 * judgement. (hostile/oracle.test.ts holds both ends to the same answers.)
 */
const cachedGrant =
  (recall: UserCache["recall"], grant: (user: User, client: ClientIpDecision) => Authenticated) =>
  (judgement: Judgement | Pending, now: number): Authenticated | undefined => {
    if (judgement._tag !== "Trusted" || judgement.dropped.length > 0) return undefined
    const user = recall(judgement.profile, judgement.groups, now)
    return user === undefined || admitUser(user) !== undefined ? undefined : grant(user, judgement.client)
  }

/** A grant, not a judgement: judgements (and Pending) carry a `_tag`, an Authenticated does not. */
const isGrant = (decided: Authenticated | Judgement | Pending): decided is Authenticated => !("_tag" in decided)

/**
 * The trust boundary: the judgement (src/domain/trust.ts), then sign-in (provisioning) and the
 * disabled check — so nothing is written for any request the judgement rejects.
 */
export class Authenticator extends Effect.Service<Authenticator>()("headtower/Authenticator", {
  effect: Effect.gen(function* () {
    const tracing = yield* spans
    const config = yield* Settings
    const settings = trustSettings(config)
    // The judgement's steps come from their layers, so a spec can swap any.
    const assertions = yield* AssertionVerifier
    const decide: StepDecisions = {
      clientIp: (yield* ClientIpResolver).decide,
      identity: (yield* IdentityExtractor).read,
      assertion: assertions.read
    }
    const users = yield* UserCache
    const { exportIdentity } = config.telemetry
    const replay = replaySteps(tracing, exportIdentity)
    const budget = rejectionLogBudget()
    // trustSettings judges proxy auth off without an API key, so a trusted request always has one.
    // One object for every grant: it is the configuration's key, the same for every request.
    const credentials: HeadscaleCredentials = Object.freeze({ apiKey: Option.getOrUndefined(config.headscale.apiKey)! })
    const granted = (user: User, client: ClientIpDecision): Authenticated => ({
      user,
      credentials,
      clientIp: client.clientIp.text
    })

    /** The judgement's effects: its steps' spans, sign-in, the disabled check, the log line of a rejection. */
    const conclude = (facts: RequestFacts, pending: Judgement | Pending) =>
      Effect.flatMap(settle(pending, assertions.verify), (judgement) => concludeSettled(facts, judgement))

    const concludeSettled = (facts: RequestFacts, judgement: Judgement) =>
      Effect.gen(function* () {
        const { client, groups, profile } = yield* replay(judgement)
        // Usually answered from memory; the store is read or written only when something changed.
        const user = yield* users.signIn(profile, { clientIp: client.clientIp.text, groups })
        const refusal = admitUser(user)
        if (refusal !== undefined) return yield* refusal
        yield* tracing.annotate(() => authenticatedAttributes(user, exportIdentity))
        return granted(user, client)
      }).pipe(Effect.tapError((error) => logRejection(tracing, budget, facts, judgement, error, settings.assertion)))

    const fromCache = cachedGrant(users.recall, granted)

    /** The judgement, or the grant when the cache answers it (counted and timed as authenticate counts it). */
    const judgeCached = (facts: RequestFacts, now: number): Authenticated | Judgement | Pending => {
      const start = performance.now()
      const judgement = judgeTrust(settings, decide, facts)
      const cached = fromCache(judgement, now)
      if (cached === undefined) return judgement
      recordAuthenticated(start)
      return cached
    }

    /**
     * authenticate's answer when it needs no effect (a trusted request whose user the cache
     * holds, at `now`); undefined for anything else, which authenticate then decides, and always
     * while spans are recorded (each request then has its spans). A route that has the time at
     * hand skips authenticate's clock read and two more runtime steps per request with it
     * (docs/performance.md). `now` must be the Clock's time: it is what expires cached users
     * (sync_ttl_seconds). An Authenticator made by hand with another `authenticate` (a decorator
     * adding a check) must answer undefined here, or its check is skipped for cached users
     * (headtower/testing's does).
     */
    const authenticateNow = (facts: RequestFacts, now: number): Authenticated | undefined => {
      if (tracing.recording) return undefined
      const decided = judgeCached(facts, now)
      return isGrant(decided) ? decided : undefined
    }

    // Every authentication is counted and timed (headtower_authentications_total, …_duration_seconds).
    const authenticate = tracing.method("Authenticator.authenticate")(
      // With spans recorded every request replays its steps, so each has its span; in quiet
      // mode a cached user costs one clock read (measured: ~15 µs → ~2 µs, docs/performance.md),
      // and anything else is finished from the same judgement by the full path.
      tracing.recording
        ? (facts: RequestFacts) =>
            observeAuthentication(Effect.suspend(() => conclude(facts, judgeTrust(settings, decide, facts))))
        : (facts: RequestFacts) =>
            Effect.clockWith((clock) => {
              const decided = judgeCached(facts, clock.unsafeCurrentTimeMillis())
              return isGrant(decided) ? Effect.succeed(decided) : observeAuthentication(conclude(facts, decided))
            })
    )

    return { authenticate, authenticateNow } as const
  }),
  // UserCache.Default is shared by reference with the users handler, which invalidates it.
  dependencies: [UserCache.Default, ClientIpResolver.Default, IdentityExtractor.Default, AssertionVerifier.Default]
}) {}
