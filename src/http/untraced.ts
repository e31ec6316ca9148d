import { HttpMiddleware } from "@effect/platform"
import { Context, Layer, Option, Tracer } from "effect"

/*
 * What "no exporter" means for tracing: every span still opens and closes (they are part of
 * the design), but into a tracer that records nothing. Measured on Effect 3.22 (docs/performance.md):
 * - the default tracer records every span in memory for nobody: the HTTP request span parses
 *   traceparent and sets attributes, and each Effect.fn span allocates and times itself;
 * - `Effect.withTracerEnabled(false)` is worse: spans become no-op spans marked "do not
 *   propagate", so every `Effect.annotateCurrentSpan` finds no span and builds (and drops) a
 *   NoSuchElementException, stack trace included;
 * - one shared span that ignores everything costs only the Effect.fn call itself.
 */

const quietSpan: Tracer.Span = {
  _tag: "Span",
  name: "untraced",
  spanId: "0000000000000000",
  traceId: "00000000000000000000000000000000",
  parent: Option.none(),
  context: Context.empty(),
  status: { _tag: "Started", startTime: 0n },
  attributes: new Map(),
  links: [],
  sampled: false,
  kind: "internal",
  end: () => {},
  attribute: () => {},
  event: () => {},
  addLinks: () => {}
}

/** A tracer that hands out one span which records nothing. */
export const quietTracer: Tracer.Tracer = Tracer.make({
  span: () => quietSpan,
  context: (f) => f()
})

/** Serves `layer` with the request span off and every other span going to `quietTracer`. */
export const untraced = <A, E, R>(layer: Layer.Layer<A, E, R>) =>
  layer.pipe(
    HttpMiddleware.withTracerDisabledWhen(() => true),
    Layer.provide(Layer.mergeAll(Layer.setTracer(quietTracer), Layer.setTracerTiming(false)))
  )
