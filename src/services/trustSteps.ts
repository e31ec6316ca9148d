import { Effect, Either } from "effect"
import type { CertificateAccepted, CertificateRejection } from "../domain/clientCertificate.js"
import type { AssertionRead } from "../domain/assertion/read.js"
import type { ClientIpDecision, ClientIpRejection } from "../domain/ClientIp.js"
import type { ProfileRead } from "../domain/IdentityHeaders.js"
import type { Judgement, Trusted, TrustError, TrustStep } from "../domain/trust.js"
import type { Profile } from "../domain/User.js"
import type { Spans } from "./spans.js"

/*
 * The judgement's steps as spans and log lines: a span per step, annotated with the decision
 * (addresses and the rule, never a header's content), failing where the judgement rejected.
 * The span names are the steps' since before the judgement was one function.
 */

/** The client-IP decision on its span: addresses and the rule, never the header's content. */
const clientIpAttributes = (decision: Either.Either<ClientIpDecision, ClientIpRejection>) =>
  Either.isLeft(decision)
    ? {
        "client_ip.outcome": "rejected",
        "client_ip.reason": decision.left.reason,
        "client_ip.peer": decision.left.peer?.text ?? "unknown"
      }
    : {
        "client_ip.outcome": "resolved",
        "client_ip.peer": decision.right.peer.text,
        "client_ip.client": decision.right.clientIp.text,
        "client_ip.source": decision.right.source,
        "client_ip.trusted_rule": decision.right.peerTrustedBy?.text ?? "none"
      }

/** The certificate decision on its span: the proxy's certificate (never a user's identity). */
const certificateAttributes = (decision: Either.Either<CertificateAccepted, CertificateRejection>) => {
  const { certificate } = Either.isLeft(decision) ? decision.left : decision.right
  return {
    "client_certificate.outcome": Either.isLeft(decision) ? "rejected" : "accepted",
    ...(Either.isLeft(decision)
      ? { "client_certificate.reason": decision.left.reason }
      : { "client_certificate.name": decision.right.name ?? "any of the CA" }),
    ...(certificate === undefined
      ? {}
      : {
          "client_certificate.subject_cn": certificate.commonName ?? "none",
          "client_certificate.fingerprint256": certificate.fingerprint256,
          ...(certificate.verifyError === undefined
            ? {}
            : { "client_certificate.verify_error": certificate.verifyError })
        })
  }
}

/** One warning for the profile facts dropped as invalid (login goes on without them), then `then`. */
const logDropped = <E>(
  message: string,
  profile: Profile,
  dropped: ReadonlyArray<{ readonly reason: string }>,
  then: Effect.Effect<void, E>
) =>
  dropped.length === 0
    ? then
    : Effect.zipRight(
        Effect.logWarning(message).pipe(
          Effect.annotateLogs({ identity: profile.identity, dropped: dropped.map((d) => d.reason).join("; ") })
        ),
        then
      )

/** The identity step's span: the headers' read, or the token's (its outcome and claims, never the token). */
const identitySpans = ({ annotated, method }: Spans, exportIdentity: boolean) => ({
  extract: method("IdentityExtractor.extract")((read: ProfileRead) => {
    if (read._tag === "Rejected") {
      const { rejection } = read
      return annotated(Either.left(rejection.error), () => ({ outcome: rejection._tag, header: rejection.header }))
    }
    const { dropped, profile } = read
    const extracted = exportIdentity
      ? annotated(Effect.void, () => ({ outcome: "extracted", identity: profile.identity }))
      : annotated(Effect.void, () => ({ outcome: "extracted" }))
    return logDropped("dropped invalid profile metadata", profile, dropped, extracted)
  }),

  assertion: method("AssertionVerifier.read")((read: AssertionRead) => {
    if (read._tag === "Rejected") {
      const { error, facts, reason } = read.rejection
      return annotated(Either.left(error), () => ({
        outcome: error._tag,
        detail: reason,
        "assertion.kid": facts.kid ?? "none",
        "assertion.alg": facts.alg ?? "none",
        "assertion.iss": facts.iss ?? "none"
      }))
    }
    const { dropped, facts, profile, remembered } = read
    const verified = annotated(Effect.void, () => ({
      outcome: remembered ? "remembered" : "verified",
      "assertion.kid": facts.kid ?? "none",
      "assertion.alg": facts.alg ?? "none",
      ...(exportIdentity ? { identity: profile.identity } : {})
    }))
    // A remembered token's dropped claims were logged when it was verified.
    return remembered ? verified : logDropped("dropped invalid profile claims", profile, dropped, verified)
  })
})

/** `exportIdentity`: whether spans may name the person (telemetry.export_identity). */
export const replaySteps = (spans: Spans, exportIdentity: boolean) => {
  const { annotate, annotated, method } = spans
  const { assertion, extract } = identitySpans(spans, exportIdentity)
  const resolve = method("ClientIpResolver.resolve")((decision: Either.Either<ClientIpDecision, ClientIpRejection>) =>
    annotated(Either.isLeft(decision) ? Either.left(decision.left.error) : Effect.void, () =>
      clientIpAttributes(decision)
    )
  )

  const checkCertificate = method("ClientCertificate.check")(
    (decision: Either.Either<CertificateAccepted, CertificateRejection>) =>
      annotated(Either.isLeft(decision) ? Either.left(decision.left.error) : Effect.void, () =>
        certificateAttributes(decision)
      )
  )

  const step = (step: TrustStep): Effect.Effect<void, TrustError> => {
    switch (step._tag) {
      case "ProxyAuth":
        return step.error === undefined ? Effect.void : Effect.fail(step.error)
      case "ClientCertificate":
        return checkCertificate(step.decision)
      case "ClientIp":
        return resolve(step.decision)
      case "AllowedCidrs": {
        const annotated = annotate(() => ({
          "auth.peer": step.client.peer.text,
          "auth.client_ip": step.client.clientIp.text,
          "auth.allowed_rule": step.rule?.text ?? "none"
        }))
        return step.error === undefined ? annotated : Effect.zipRight(annotated, Effect.fail(step.error))
      }
      case "Identity":
        return extract(step.read)
      case "Assertion":
        return assertion(step.read)
    }
  }

  /** Each step's span in turn; fails with the judgement's error at the step that rejected. */
  return (judgement: Judgement): Effect.Effect<Trusted, TrustError> =>
    Effect.zipRight(
      Effect.forEach(judgement.steps, step, { discard: true }),
      judgement._tag === "Trusted" ? Effect.succeed(judgement) : Effect.fail(judgement.error)
    )
}
