import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { quietTracer, spans } from "../../src/services/spans.js"
import { untraced } from "../../src/services/Tracing.js"

describe("untraced", () => {
  it("builds what it wraps under quietTracer, so its services skip span work", async () => {
    const recording = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          let seen: boolean | undefined
          yield* Layer.build(untraced(Layer.effectDiscard(Effect.map(spans, (s) => (seen = s.recording)))))
          return seen
        })
      )
    )
    expect(recording).toBe(false)
  })

  it("leaves the tracer of whoever built it alone: a layer built next records spans", async () => {
    const after = await Effect.runPromise(
      Effect.gen(function* () {
        yield* Effect.scoped(Layer.build(untraced(Layer.empty)))
        return yield* Effect.tracer
      })
    )
    expect(after).not.toBe(quietTracer)
  })
})
