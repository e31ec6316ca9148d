import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import { Layer } from "effect"
import { quietTracer } from "../services/spans.js"

/*
 * What "no exporter" means for tracing: the HTTP request span is off, and every other span
 * goes to `quietTracer`, under which the services' named spans and annotations are skipped
 * (src/services/spans.ts). `Effect.withTracerEnabled(false)` was measured slower: spans become
 * no-op spans, and every `Effect.annotateCurrentSpan` then builds and drops an exception.
 */

/**
 * Serves `layer` with the request span off and every other span going to `quietTracer`. The two
 * settings are provided one after the other: merged (`Layer.mergeAll`), they outlived the
 * layer's scope and left the builder's own fiber on the quiet tracer.
 */
export const untraced = <A, E, R>(layer: Layer.Layer<A, E, R>) =>
  layer.pipe(
    HttpMiddleware.withTracerDisabledWhen(() => true),
    Layer.provide(Layer.setTracer(quietTracer)),
    Layer.provide(Layer.setTracerTiming(false))
  )
