import { Effect } from "effect"
import { AmbiguousHeader, InvalidHeader, MissingIdentityHeader, type IdentityError } from "../domain/errors.js"
import { extractProfile, type ExtractedProfile, type HeaderRejection } from "../domain/IdentityHeaders.js"
import type { RequestFacts } from "../domain/RequestFacts.js"
import { Config } from "./Config.js"

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
    const config = (yield* Config).server.proxyAuth

    const extract = Effect.fn("IdentityExtractor.extract")(function* (facts: RequestFacts) {
      const result = extractProfile(config, facts)
      if (result._tag === "Rejected") {
        yield* Effect.annotateCurrentSpan({ outcome: result.rejection._tag, header: result.rejection.header })
        return yield* toError(result.rejection)
      }
      const profile: ExtractedProfile = result.profile
      yield* Effect.annotateCurrentSpan("identity", profile.identity)
      if (profile.dropped.length > 0) {
        yield* Effect.logWarning("dropped invalid profile metadata").pipe(
          Effect.annotateLogs({ identity: profile.identity, dropped: profile.dropped.map((d) => d.reason).join("; ") })
        )
      }
      return profile
    })

    return { extract } as const
  })
}) {}
