import { Effect, Either } from "effect"
import { type ClientIpRejection, decideClientIp } from "../domain/ClientIp.js"
import { AmbiguousHeader, type ClientIpError, ClientNotAllowed, InvalidForwardedAddress } from "../domain/errors.js"
import type { RequestFacts } from "../domain/RequestFacts.js"
import { Settings } from "./Settings.js"
import { spans } from "./spans.js"

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
    const { annotated, method } = yield* spans
    const { proxyAuth } = (yield* Settings).server

    /** The decision alone, without an effect or a span: `resolve`, and authenticate's fast path. */
    const decide = (facts: RequestFacts) => decideClientIp(proxyAuth, facts)

    // The decision, not the request: addresses and the rule, never the header's content.
    const resolve = method("ClientIpResolver.resolve")((facts: RequestFacts) => {
      const decision = decide(facts)
      return Either.isLeft(decision)
        ? annotated(Either.left(toError(decision.left)), () => ({
          "client_ip.outcome": "rejected",
          "client_ip.reason": decision.left.reason,
          "client_ip.peer": decision.left.peer?.text ?? "unknown"
        }))
        : annotated(Either.right(decision.right), () => ({
          "client_ip.outcome": "resolved",
          "client_ip.peer": decision.right.peer.text,
          "client_ip.client": decision.right.clientIp.text,
          "client_ip.source": decision.right.source,
          "client_ip.trusted_rule": decision.right.peerTrustedBy?.text ?? "none"
        }))
    })

    return { resolve, decide } as const
  })
}) {}
