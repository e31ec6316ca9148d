import { describe, expect, it } from "@effect/vitest"
import { GROUP_LIMITS, extractProfile } from "../../src/domain/IdentityHeaders.js"
import { requestFacts } from "../../src/domain/RequestFacts.js"
import { testConfig } from "../../src/testing/config.js"

const config = testConfig({ groupsHeader: "Remote-Groups" }).server.proxyAuth
const wire = (s: string) => Buffer.from(s, "utf8").toString("latin1")
const read = (groups: string | Array<string> | undefined, separator = ",") =>
  extractProfile(
    { ...config, groupsSeparator: separator },
    requestFacts("127.0.0.1", [
      ["Remote-User", "alice"],
      ...(groups === undefined ? [] : [["Remote-Groups", groups] as [string, string | Array<string>]])
    ])
  )
const groupsOf = (groups: string | Array<string> | undefined, separator?: string) => {
  const r = read(groups, separator)
  if (r._tag !== "Ok") throw new Error(`rejected: ${r.rejection.reason}`)
  return r.groups
}
const refusalOf = (groups: string | Array<string>) => {
  const r = read(groups)
  if (r._tag !== "Rejected") throw new Error("accepted")
  return { tag: r.rejection.error._tag, reason: r.rejection.reason }
}

describe("the groups header, read in the identity step", () => {
  it("absent is unknown (undefined); present but empty is no groups", () => {
    expect(groupsOf(undefined)).toBeUndefined()
    expect(groupsOf("")).toEqual([])
    expect(groupsOf("  ")).toEqual([])
  })

  it("not configured: never read, even when sent", () => {
    const r = extractProfile(
      testConfig().server.proxyAuth,
      requestFacts("127.0.0.1", [
        ["Remote-User", "a"],
        ["Remote-Groups", "x"]
      ])
    )
    expect(r._tag === "Ok" && r.groups).toBeUndefined()
  })

  it("split on the separator, each item trimmed, empty items ignored, order kept", () => {
    expect(groupsOf("admins, dev ,,ops,")).toEqual(["admins", "dev", "ops"])
    expect(groupsOf("a|b c|d", "|")).toEqual(["a", "b c", "d"])
    expect(groupsOf("a,b|c", "|")).toEqual(["a,b", "c"])
  })

  it("UTF-8 group names are decoded as the identity is", () => {
    expect(groupsOf(wire("équipe,ops"))).toEqual(["équipe", "ops"])
  })

  it("sent twice is ambiguous (AmbiguousHeader 400), never joined", () => {
    expect(refusalOf(["admins", "dev"])).toEqual({ tag: "AmbiguousHeader", reason: "Remote-Groups was sent 2 times" })
  })

  it("a control or formatting character, or bytes that are not UTF-8, refuse the request (InvalidHeader 400)", () => {
    for (const bad of ["ops\tdev", "ops,\u202eadmin", wire("ops,\u2028"), "\xff\xfe"]) {
      expect(refusalOf(bad).tag, JSON.stringify(bad)).toBe("InvalidHeader")
    }
  })

  it("the limits refuse, never truncate: count, one group's bytes, the header's bytes", () => {
    const many = Array.from({ length: GROUP_LIMITS.count + 1 }, (_, i) => `g${i}`).join(",")
    expect(refusalOf(many)).toEqual({ tag: "InvalidHeader", reason: "Remote-Groups holds 257 groups, more than 256" })
    expect(groupsOf(many.slice(0, many.lastIndexOf(",")))).toHaveLength(GROUP_LIMITS.count)
    expect(refusalOf("x".repeat(GROUP_LIMITS.groupBytes + 1)).reason).toContain("longer than 256 bytes")
    expect(groupsOf("x".repeat(GROUP_LIMITS.groupBytes))).toHaveLength(1)
    expect(refusalOf(",".repeat(GROUP_LIMITS.totalBytes + 1)).reason).toContain("longer than 8192 bytes")
    const tenThousand = Array.from({ length: 10_000 }, (_, i) => `g${i}`).join(",")
    expect(refusalOf(tenThousand).tag).toBe("InvalidHeader")
  })
})
