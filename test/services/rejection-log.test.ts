import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Logger, TestClock } from "effect"
import { requestFacts } from "../../src/domain/RequestFacts.js"
import { Authenticator } from "../../src/services/Authenticator.js"
import { LINES_PER_WINDOW, MAX_SOURCES, rejectionLogBudget, WINDOW_MS } from "../../src/services/rejectionLog.js"
import { testConfigLayer } from "../../src/testing/config.js"
import { InMemoryUserStore } from "../../src/testing/index.js"

const written = (verdicts: ReadonlyArray<{ readonly write: boolean }>) => verdicts.filter((v) => v.write).length

describe("the rejection log budget", () => {
  it("writes a source's first lines of each window and reports what it left out on the next window's first line", () => {
    const budget = rejectionLogBudget()
    const first = Array.from({ length: 25 }, (_, i) => budget("ClientNotAllowed 10.9.9.9 10.9.9.9", i))
    expect(written(first)).toBe(LINES_PER_WINDOW)
    expect(first[0]).toEqual({ write: true, suppressed: 0 })
    expect(budget("ClientNotAllowed 10.9.9.9 10.9.9.9", WINDOW_MS - 1)).toEqual({ write: false })
    expect(budget("ClientNotAllowed 10.9.9.9 10.9.9.9", WINDOW_MS + 24)).toEqual({ write: true, suppressed: 16 })
    expect(budget("ClientNotAllowed 10.9.9.9 10.9.9.9", WINDOW_MS + 25)).toEqual({ write: true, suppressed: 0 })
  })

  it("gives every source its own budget: a flooding stranger leaves the proxy's lines alone", () => {
    const budget = rejectionLogBudget()
    for (let i = 0; i < 1_000; i++) budget("ClientNotAllowed 10.9.9.9 10.9.9.9", i)
    expect(budget("MissingIdentityHeader 127.0.0.1 192.0.2.7", 1_000)).toEqual({ write: true, suppressed: 0 })
  })

  it("shares one budget among sources past MAX_SOURCES, so a flood of addresses stays bounded too", () => {
    const budget = rejectionLogBudget()
    const verdicts = Array.from({ length: MAX_SOURCES + 100 }, (_, i) => budget(`ClientNotAllowed 10.0.${i} x`, 0))
    expect(written(verdicts)).toBe(MAX_SOURCES + LINES_PER_WINDOW)
    // Once their windows are over, the remembered sources are forgotten and new ones get their own budget again.
    expect(budget("ClientNotAllowed 10.1.0.1 x", WINDOW_MS)).toEqual({ write: true, suppressed: 0 })
    expect(budget("ClientNotAllowed 10.1.0.2 x", WINDOW_MS)).toEqual({ write: true, suppressed: 0 })
  })
})

describe("authenticate's rejection lines", () => {
  it.effect("a stranger's flood writes LINES_PER_WINDOW lines a minute, then one saying how many were left out", () =>
    Effect.gen(function* () {
      const lines: Array<Record<string, unknown>> = []
      const logger = Logger.make(({ annotations, message }) => {
        if (String(message).includes("proxy authentication rejected")) lines.push(Object.fromEntries(annotations))
      })
      const auth = yield* Authenticator
      const stranger = requestFacts("10.9.9.9", [["remote-user", "eve"]])
      const flood = Effect.forEach(Array.from({ length: 40 }), () => Effect.flip(auth.authenticate(stranger)), {
        discard: true
      })
      yield* flood.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      expect(lines).toHaveLength(LINES_PER_WINDOW)
      expect(lines[0]).toMatchObject({ reason: "ClientNotAllowed", peer: "10.9.9.9", client_ip: "10.9.9.9" })
      yield* TestClock.adjust(WINDOW_MS)
      yield* Effect.flip(auth.authenticate(stranger)).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      expect(lines).toHaveLength(LINES_PER_WINDOW + 1)
      expect(lines.at(-1)).toMatchObject({ reason: "ClientNotAllowed", suppressed: 40 - LINES_PER_WINDOW })
    }).pipe(
      Effect.provide(Authenticator.Default.pipe(Layer.provide(InMemoryUserStore), Layer.provide(testConfigLayer({}))))
    )
  )
})
