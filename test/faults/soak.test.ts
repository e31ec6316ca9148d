import { describe, expect, it } from "vitest"
import { runSoak } from "./soakRun.js"

/*
 * The soak in its short form, so every suite run drives a real server with concurrent legit
 * and hostile traffic. Throughput and latency depend on the machine and are only printed by
 * `npm run soak`; what is asserted here holds on any machine.
 */
describe("soak (short)", () => {
  it("8 s of mixed traffic at concurrency 64: zero 5xx, zero mis-authentications, every request answered", async () => {
    const result = await runSoak({ seconds: 8, concurrency: 64 })
    expect(result.requests).toBeGreaterThan(100)
    expect(result.hostile).toBeGreaterThan(0)
    expect(result.unexpected).toEqual([])
    expect(result.serverErrors).toBe(0)
    expect(result.misauthentications).toBe(0)
    expect(result.transportErrors).toBe(0)
  }, 120_000)
})
