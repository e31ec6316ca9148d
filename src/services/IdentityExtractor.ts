import { Effect, Either } from "effect"
import { AmbiguousHeader, InvalidHeader, MissingIdentityHeader, type IdentityError } from "../domain/errors.js"
import { extractProfile, type ExtractedProfile, type HeaderRejection } from "../domain/IdentityHeaders.js"
import type { RequestFacts } from "../domain/RequestFacts.js"
import { Settings } from "./Settings.js"
import { spans } from "./spans.js"

const toError = (r: HeaderRejection): IdentityError => {
  switch (r._tag) {
    case "Missing":
      return new MissingIdentityHeader({ message: `${r.reason}; this request did not come through the authenticating proxy` })
    case "Ambiguous":
      return new AmbiguousHeader({ message: `${r.reason}; an identity header must be sent exactly once` })
    case "Invalid":
      return new InvalidHeader({ message: r.reason })
  }
}

/** Reads the identity and profile headers a trusted request carries. */
export class IdentityExtractor extends Effect.Service<IdentityExtractor>()("headtower/IdentityExtractor", {
  effect: Effect.gen(function* () {
    const { annotated, method } = yield* spans
    const { server, telemetry } = yield* Settings
    const config = server.proxyAuth

    /** The headers read, without an effect or a span: `extract`, and authenticate's fast path. */
    const read = (facts: RequestFacts) => extractProfile(config, facts)

    const extract = method("IdentityExtractor.extract")((facts: RequestFacts) => {
      const result = read(facts)
      if (result._tag === "Rejected") {
        const { rejection } = result
        return annotated(Either.left(toError(rejection)), () => ({ outcome: rejection._tag, header: rejection.header }))
      }
      const profile: ExtractedProfile = result.profile
      // Who the person is goes into spans only if the operator opted in (telemetry.export_identity).
      const extracted = telemetry.exportIdentity
        ? annotated(Either.right(profile), () => ({ outcome: "extracted", identity: profile.identity }))
        : annotated(Either.right(profile), () => ({ outcome: "extracted" }))
      if (profile.dropped.length === 0) return extracted
      return Effect.zipRight(
        Effect.logWarning("dropped invalid profile metadata").pipe(
          Effect.annotateLogs({ identity: profile.identity, dropped: profile.dropped.map((d) => d.reason).join("; ") })
        ),
        extracted
      )
    })

    return { extract, read } as const
  })
}) {}
