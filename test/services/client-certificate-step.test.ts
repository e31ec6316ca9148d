import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import type { PeerCertificate } from "../../src/domain/clientCertificate.js"
import { requestFacts } from "../../src/domain/RequestFacts.js"
import { judgeTrust, pureStepDecisions, trustSettings } from "../../src/domain/trust.js"
import { spans as tracing } from "../../src/services/spans.js"
import { replaySteps } from "../../src/services/trustSteps.js"
import { testConfig } from "../../src/testing/config.js"
import { settled } from "../fixtures/judgement.js"
import { recordSpans } from "../fixtures/recordingTracer.js"

/*
 * The client-certificate step as the full path replays it: a `ClientCertificate.check` span
 * with the decision (the proxy's certificate: CN, fingerprint, the name it matched; never a
 * user's identity), failing where the judgement refused.
 */

const config = testConfig(
  {},
  {},
  { clientCaFile: { path: "proxy-ca.crt", pem: "" }, allowedClientNames: ["proxy.internal"] }
)
const settings = trustSettings(config)
const proxy: PeerCertificate = {
  commonName: "proxy.internal",
  dnsNames: [],
  fingerprint256: "AB:CD",
  verifyError: undefined
}

const replayed = (certificate: PeerCertificate | undefined) =>
  Effect.gen(function* () {
    const facts = { ...requestFacts("127.0.0.1", [["Remote-User", "alice"]]), clientCertificate: certificate }
    const replay = replaySteps(yield* tracing, false)
    const { spans } = yield* recordSpans(
      Effect.exit(replay(settled(judgeTrust(settings, pureStepDecisions(settings), facts))))
    )
    const span = spans.find((s) => s.name === "ClientCertificate.check")
    if (span === undefined || span.status._tag !== "Ended") throw new Error("no ended ClientCertificate.check span")
    const attributes = Object.fromEntries([...span.attributes].filter(([key]) => key.startsWith("client_certificate.")))
    return { exit: span.status.exit, attributes, names: spans.map((s) => s.name) }
  })

describe("the client-certificate step", () => {
  it.effect("a trusted certificate: its span says which name it matched", () =>
    Effect.gen(function* () {
      const { attributes, exit, names } = yield* replayed(proxy)
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(attributes).toEqual({
        "client_certificate.outcome": "accepted",
        "client_certificate.name": "proxy.internal",
        "client_certificate.subject_cn": "proxy.internal",
        "client_certificate.fingerprint256": "AB:CD"
      })
      expect(names.indexOf("ClientCertificate.check")).toBeLessThan(names.indexOf("ClientIpResolver.resolve"))
    })
  )

  it.effect("a refused certificate: the span fails with the reason and OpenSSL's code; no later step runs", () =>
    Effect.gen(function* () {
      const { attributes, exit, names } = yield* replayed({ ...proxy, verifyError: "CERT_HAS_EXPIRED" })
      expect(Exit.isFailure(exit)).toBe(true)
      expect(attributes).toMatchObject({
        "client_certificate.outcome": "rejected",
        "client_certificate.reason": "not_verified",
        "client_certificate.verify_error": "CERT_HAS_EXPIRED"
      })
      expect(names).not.toContain("ClientIpResolver.resolve")
      const none = yield* replayed(undefined)
      expect(none.attributes).toEqual({
        "client_certificate.outcome": "rejected",
        "client_certificate.reason": "no_certificate"
      })
    })
  )
})
