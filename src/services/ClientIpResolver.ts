import { Effect } from "effect"
import { decideClientIp } from "../domain/ClientIp.js"
import type { RequestFacts } from "../domain/RequestFacts.js"
import { Settings } from "./Settings.js"

/**
 * The judgement's first step as a layer: which address is the client's, by the configured
 * ip_header rules (domain/ClientIp.ts decides; this binds it to the configuration). A spec may
 * swap it; the order of the checks stays in domain/trust.ts either way.
 */
export class ClientIpResolver extends Effect.Service<ClientIpResolver>()("headtower/ClientIpResolver", {
  effect: Effect.map(Settings, ({ server: { proxyAuth } }) => ({
    /** Pure and effect-free, so authenticate's cached path can call it per request. */
    decide: (facts: RequestFacts) => decideClientIp(proxyAuth, facts)
  }))
}) {}
