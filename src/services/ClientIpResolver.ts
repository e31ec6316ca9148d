import { Effect, Either } from "effect"
import { type ClientIpRejection, decideClientIp } from "../domain/ClientIp.js"
import { AmbiguousHeader, type ClientIpError, ClientNotAllowed, InvalidForwardedAddress } from "../domain/errors.js"
import type { RequestFacts } from "../domain/RequestFacts.js"
import { Config } from "./Config.js"

/** The typed error a rejection maps to; its message was written to be safe for the client. */
const toError = (rejection: ClientIpRejection): ClientIpError => {
  switch (rejection.error) {
    case "ClientNotAllowed":
      return new ClientNotAllowed({ message: rejection.message })
    case "InvalidForwardedAddress":
      return new InvalidForwardedAddress({ message: rejection.message })
    case "AmbiguousHeader":
      return new AmbiguousHeader({ message: rejection.message })
  }
}

/** Wires the pure client-IP decision to the configuration and to tracing. */
export class ClientIpResolver extends Effect.Service<ClientIpResolver>()("headtower/ClientIpResolver", {
  effect: Effect.gen(function*() {
    const { proxyAuth } = (yield* Config).server

    const resolve = Effect.fn("ClientIpResolver.resolve")(function*(facts: RequestFacts) {
      const decision = decideClientIp(proxyAuth, facts)
      // The decision, not the request: addresses and the rule, never the header's content.
      if (Either.isLeft(decision)) {
        yield* Effect.annotateCurrentSpan({
          "client_ip.outcome": "rejected",
          "client_ip.reason": decision.left.reason,
          "client_ip.peer": decision.left.peer?.text ?? "unknown"
        })
        return yield* Effect.fail(toError(decision.left))
      }
      const { clientIp, peer, peerTrustedBy, source } = decision.right
      yield* Effect.annotateCurrentSpan({
        "client_ip.outcome": "resolved",
        "client_ip.peer": peer.text,
        "client_ip.client": clientIp.text,
        "client_ip.source": source,
        "client_ip.trusted_rule": peerTrustedBy?.text ?? "none"
      })
      return decision.right
    })

    return { resolve } as const
  })
}) {}
