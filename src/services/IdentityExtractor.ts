import { Effect } from "effect"
import { extractProfile } from "../domain/IdentityHeaders.js"
import type { RequestFacts } from "../domain/RequestFacts.js"
import { Settings } from "./Settings.js"

/**
 * The judgement's identity step as a layer: who the configured headers say the user is
 * (domain/IdentityHeaders.ts decides; this binds it to the configuration). A spec may swap it;
 * the order of the checks stays in domain/trust.ts either way.
 */
export class IdentityExtractor extends Effect.Service<IdentityExtractor>()("headtower/IdentityExtractor", {
  effect: Effect.map(Settings, ({ server: { proxyAuth } }) => ({
    /** Pure and effect-free, so authenticate's cached path can call it per request. */
    read: (facts: RequestFacts) => extractProfile(proxyAuth, facts)
  }))
}) {}
