import { HttpServerRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { requestFactsOf } from "../../src/http/requestFacts.js"

describe("requestFactsOf", () => {
  it("a request not backed by Node's message has no peer and no headers, so it fails closed", () => {
    const web = new Request("http://127.0.0.1/api/me", {
      headers: [
        ["Remote-User", "alice"],
        ["Remote-User", "bob"]
      ]
    })
    // As a non-Node platform or a middleware would: an address set on the request, headers joined.
    const request = HttpServerRequest.fromWeb(web).modify({ remoteAddress: "127.0.0.1" })
    expect(requestFactsOf(request)).toEqual({ peer: undefined, headers: new Map() })
  })
})
