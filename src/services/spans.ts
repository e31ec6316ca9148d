import { Context, Effect, Option, Tracer } from "effect"

/*
 * Spans that cost nothing when nobody listens. Measured on Effect 3.22 (docs/performance.md):
 * `Effect.withSpan` costs ~15 µs even into a tracer that drops everything (it rewrites the
 * fiber's context and refs), `Effect.fn`'s call-site Error ~4 µs more, and
 * `Effect.annotateCurrentSpan` with no span open ~10 µs (it builds and drops an exception).
 * So the server installs `quietTracer` when no exporter is configured, and services built
 * under it skip span work altogether; under any other tracer (an exporter, Effect's default,
 * a test's recording tracer) their methods are `Effect.fn` and `Effect.annotateCurrentSpan` exactly.
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

/** The tracer when no exporter is configured: one span that records nothing. */
export const quietTracer: Tracer.Tracer = Tracer.make({
  span: () => quietSpan,
  context: (f) => f()
})

export interface Spans {
  /** False under `quietTracer`: nobody reads spans, so a service may take paths that open none. */
  readonly recording: boolean
  /**
   * How every public service method is made, named `"<Service>.<method>"`: its body returns an
   * effect (an `Either` will do), and it is `Effect.fn(name)(body)`, or the body itself when
   * quiet — for hot paths, where even a generator is measurable.
   */
  readonly method: (
    name: string
  ) => <Args extends Array<any>, A, E, R>(
    body: (...args: Args) => Effect.Effect<A, E, R>
  ) => (...args: Args) => Effect.Effect<A, E, R>
  /** `Effect.annotateCurrentSpan(values())`, or nothing (not even the record) when quiet. */
  readonly annotate: (values: () => Record<string, unknown>) => Effect.Effect<void>
  /** `effect`, annotating the current span first; `effect` itself when quiet. */
  readonly annotated: <A, E, R>(
    effect: Effect.Effect<A, E, R>,
    values: () => Record<string, unknown>
  ) => Effect.Effect<A, E, R>
}

const recorded: Spans = {
  recording: true,
  method: (name) => (body) => Effect.fn(name)(body),
  annotate: (values) => Effect.suspend(() => Effect.annotateCurrentSpan(values())),
  annotated: (effect, values) =>
    Effect.zipRight(
      Effect.suspend(() => Effect.annotateCurrentSpan(values())),
      effect
    )
}

const quiet: Spans = {
  recording: false,
  method: () => (body) => body,
  annotate: () => Effect.void,
  annotated: (effect) => effect
}

/**
 * How a service builds its methods, read once when its layer is built: the choice costs
 * nothing per call. The server builds its services under `quietTracer` exactly when no
 * exporter is configured (`withTracing`, src/services/Tracing.ts, the one place that decides).
 */
export const spans: Effect.Effect<Spans> = Effect.map(Effect.tracer, (tracer) =>
  tracer === quietTracer ? quiet : recorded
)
