import { Effect, Either, Option } from "effect"
import type { Cidr } from "./Address.js"
import type { AppConfig, ProxyAuthConfig } from "./AppConfig.js"
import {
  type CertificateAccepted,
  type CertificateRejection,
  type ClientCertificatePolicy,
  clientCertificatePolicy,
  decideClientCertificate
} from "./clientCertificate.js"
import { type AssertionLookup, type AssertionRead, readAssertionToken } from "./assertion/read.js"
import { type ClientIpDecision, type ClientIpRejection, decideClientIp } from "./ClientIp.js"
import {
  type AssertionError,
  type ClientIpError,
  ClientNotAllowed,
  type IdentityError,
  ProxyAuthDisabled,
  type UntrustedClientCertificate,
  UserDisabled
} from "./errors.js"
import { type DroppedHeader, extractProfile, type Groups, type ProfileRead } from "./IdentityHeaders.js"
import type { RequestFacts } from "./RequestFacts.js"
import type { Profile } from "./User.js"

/*
 * The trust judgement, written once. Order matters and is the contract: proxy auth on, then the
 * connection's client certificate (when server.tls.client_ca_file requires one), then the
 * client IP, then allowed_cidrs, then the identity: the identity headers, or, when `assertion`
 * is configured, the signed token alone (the headers are then never read) — so a request from
 * outside allowed_cidrs learns nothing about header problems. The certificate comes before the
 * client IP because it is a fact of the connection, established before any header is read: a
 * connection without the proxy's certificate learns nothing about what its headers
 * (ip_header included) would have decided.
 *
 * Verifying a token is asynchronous (keys are fetched, WebCrypto is async), and the judgement
 * stays pure: when the token is not already known, it ends in `Pending`, a continuation holding
 * the token to verify and the rest of the judgement (`resume`). Whoever can verify (authenticate,
 * explain) does so and resumes it (`settle`); the order of the checks stays here. `authenticate` (its full and its cached
 * path) and `headtower explain` all call `judgeTrust`; the full path adds the effects (spans,
 * sign-in, the log line), the cached path the cache lookup, explain the words.
 */

/** Why a request is not trusted: every failure the judgement itself can reach. */
export type TrustError = ProxyAuthDisabled | UntrustedClientCertificate | ClientIpError | IdentityError | AssertionError

/** What the judgement reads: proxy_auth, and the client-certificate policy of server.tls when one is set. */
export interface TrustSettings extends ProxyAuthConfig {
  readonly clientCertificates?: ClientCertificatePolicy | undefined
}

type CertificateDecision = Either.Either<CertificateAccepted, CertificateRejection>

/** One check the judgement made, with what it found; a step that rejects carries its error. */
export type TrustStep =
  | { readonly _tag: "ProxyAuth"; readonly error: ProxyAuthDisabled | undefined }
  | { readonly _tag: "ClientCertificate"; readonly decision: CertificateDecision }
  | { readonly _tag: "ClientIp"; readonly decision: Either.Either<ClientIpDecision, ClientIpRejection> }
  | {
      readonly _tag: "AllowedCidrs"
      readonly client: ClientIpDecision
      readonly rule: Cidr | undefined
      readonly error: ClientNotAllowed | undefined
    }
  | { readonly _tag: "Identity"; readonly read: ProfileRead }
  | { readonly _tag: "Assertion"; readonly read: AssertionRead }

export interface Trusted {
  readonly _tag: "Trusted"
  readonly client: ClientIpDecision
  /** The allowed_cidrs rule the client matched. */
  readonly rule: Cidr
  readonly profile: Profile
  /** Profile headers dropped as invalid; login goes on without them. */
  readonly dropped: ReadonlyArray<DroppedHeader>
  /** The proxy's groups for this request (groups_header or assertion.groups_claim); undefined when unknown. */
  readonly groups: Groups
  readonly steps: ReadonlyArray<TrustStep>
}

export interface Rejected {
  readonly _tag: "Rejected"
  readonly error: TrustError
  /** The client IP, when it was resolved before the rejection. */
  readonly client: ClientIpDecision | undefined
  readonly steps: ReadonlyArray<TrustStep>
}

export type Judgement = Trusted | Rejected

/** Everything up to the token judged; the token still to verify, and the rest of the judgement. */
export interface Pending {
  readonly _tag: "Pending"
  readonly token: string
  readonly client: ClientIpDecision
  /** The identity step and the verdict, given the verifier's answer for `token`. */
  readonly resume: (read: AssertionRead) => Judgement
}

const ENABLED: TrustStep = { _tag: "ProxyAuth", error: undefined }
/** The steps before the client IP when no client certificate is required: shared, so the cached path allocates none. */
const ENABLED_ONLY: ReadonlyArray<TrustStep> = [ENABLED]

const rejected = (
  error: TrustError,
  client: ClientIpDecision | undefined,
  steps: ReadonlyArray<TrustStep>
): Rejected => ({
  _tag: "Rejected",
  error,
  client,
  steps
})

/**
 * The judgement's two per-request steps. The server takes them from the ClientIpResolver and
 * IdentityExtractor layers (a spec may swap either); `pureStepDecisions` is what those layers
 * provide, for callers without layers.
 */
export interface StepDecisions {
  readonly clientIp: (facts: RequestFacts) => Either.Either<ClientIpDecision, ClientIpRejection>
  readonly identity: (facts: RequestFacts) => ProfileRead
  /** Assertion mode's identity step: the token, already judged when it is known. */
  readonly assertion: (facts: RequestFacts) => AssertionLookup
}

export const pureStepDecisions = (settings: ProxyAuthConfig): StepDecisions => ({
  clientIp: (facts) => decideClientIp(settings, facts),
  identity: (facts) => extractProfile(settings, facts),
  assertion: (facts) => readAssertionToken(settings.assertion!, facts)
})

/** Whether `settings` let `facts` in, and who the headers say the user is. Pure: no store, no clock. */
export const judgeTrust = (
  settings: TrustSettings,
  decide: StepDecisions,
  facts: RequestFacts
): Judgement | Pending => {
  if (!settings.enabled) {
    const error = new ProxyAuthDisabled({ message: "proxy authentication is not enabled on this server" })
    return rejected(error, undefined, [{ _tag: "ProxyAuth", error }])
  }
  const policy = settings.clientCertificates
  const certificate = policy === undefined ? undefined : decideClientCertificate(policy, facts.clientCertificate)
  const before: ReadonlyArray<TrustStep> =
    certificate === undefined ? ENABLED_ONLY : [ENABLED, { _tag: "ClientCertificate", decision: certificate }]
  if (certificate !== undefined && Either.isLeft(certificate)) {
    return rejected(certificate.left.error, undefined, before)
  }

  const decision = decide.clientIp(facts)
  if (Either.isLeft(decision)) {
    return rejected(decision.left.error, undefined, [...before, { _tag: "ClientIp", decision }])
  }

  const client = decision.right
  const rule = settings.allowedCidrs.match(client.clientIp)
  if (rule === undefined) {
    const error = new ClientNotAllowed({ message: "this client is not allowed to authenticate through the proxy" })
    return rejected(error, client, [
      ...before,
      { _tag: "ClientIp", decision },
      {
        _tag: "AllowedCidrs",
        client,
        rule,
        error
      }
    ])
  }

  if (settings.assertion !== undefined) {
    const lookup = decide.assertion(facts)
    return lookup._tag === "Unverified"
      ? {
          _tag: "Pending",
          token: lookup.token,
          client,
          resume: (read) => identityJudgement(before, decision, client, rule, read)
        }
      : identityJudgement(before, decision, client, rule, lookup)
  }
  return identityJudgement(before, decision, client, rule, decide.identity(facts))
}

/** The last step's read: the headers' (ProfileRead) or the token's (AssertionRead, which carries `facts`). */
type IdentityRead = ProfileRead | AssertionRead

const identityStep = (read: IdentityRead): TrustStep =>
  (read._tag === "Ok" ? "facts" in read : "facts" in read.rejection)
    ? { _tag: "Assertion", read: read as AssertionRead }
    : { _tag: "Identity", read: read as ProfileRead }

/** The verdict of the last step. */
const identityJudgement = (
  before: ReadonlyArray<TrustStep>,
  decision: Either.Either<ClientIpDecision, ClientIpRejection>,
  client: ClientIpDecision,
  rule: Cidr,
  read: IdentityRead
): Judgement =>
  read._tag === "Rejected"
    ? rejected(read.rejection.error, client, trustedSteps(before, decision, client, rule, read))
    : new TrustedJudgement(before, decision, client, rule, read)

/** A pending judgement settled by `verify`; any other is already settled. */
export const settle = <E, R>(
  judgement: Judgement | Pending,
  verify: (token: string) => Effect.Effect<AssertionRead, E, R>
): Effect.Effect<Judgement, E, R> =>
  judgement._tag === "Pending" ? Effect.map(verify(judgement.token), judgement.resume) : Effect.succeed(judgement)

const trustedSteps = (
  before: ReadonlyArray<TrustStep>,
  decision: Either.Either<ClientIpDecision, ClientIpRejection>,
  client: ClientIpDecision,
  rule: Cidr,
  read: IdentityRead
): ReadonlyArray<TrustStep> => [
  ...before,
  { _tag: "ClientIp", decision },
  { _tag: "AllowedCidrs", client, rule, error: undefined },
  identityStep(read)
]

/**
 * A trusted judgement, its steps built only when asked for (the span replay, explain): the
 * cached path, which reads only the client and the profile, allocates none of them.
 */
class TrustedJudgement implements Trusted {
  readonly _tag = "Trusted"
  constructor(
    private readonly before: ReadonlyArray<TrustStep>,
    private readonly decision: Either.Either<ClientIpDecision, ClientIpRejection>,
    readonly client: ClientIpDecision,
    readonly rule: Cidr,
    private readonly read: Extract<IdentityRead, { readonly _tag: "Ok" }>
  ) {}
  get profile() {
    return this.read.profile
  }
  get dropped() {
    return this.read.dropped
  }
  get groups() {
    return this.read.groups
  }
  get steps() {
    return trustedSteps(this.before, this.decision, this.client, this.rule, this.read)
  }
}

/** The last check, once the store has answered: a disabled user is refused. */
export const admitUser = (user: { readonly disabled: boolean }): UserDisabled | undefined =>
  user.disabled ? new UserDisabled({ message: "this user has been disabled by a Headtower owner" }) : undefined

/**
 * The settings the judgement reads from a configuration. Proxy auth counts as on only with an
 * API key to act with: Decision 6 makes that unreachable, and this keeps the invariant local.
 */
export const trustSettings = (config: Pick<AppConfig, "server" | "headscale">): TrustSettings => ({
  ...config.server.proxyAuth,
  ...(Option.isNone(config.headscale.apiKey) ? { enabled: false } : {}),
  clientCertificates: clientCertificatePolicy(config.server.tls)
})
