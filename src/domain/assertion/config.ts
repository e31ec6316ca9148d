import { ParseResult, Schema } from "effect"
import { isNonEmptyArray } from "effect/Array"
import { redactUrl } from "../display.js"
import { HeaderToken, isHttpOwnHeader, listOf, optionalKey, Text, wholeNumber } from "../config/fields.js"

/*
 * `server.proxy_auth.assertion`: verified identity assertions (signed JWTs from an
 * identity-aware proxy). Written or not is the switch: an absent or empty section is header
 * mode; any key written turns the mode on, and then issuer, audience and one key source are
 * required (each missing one is an error naming it).
 */

/** Asymmetric JWS algorithms: a verifier that holds only public keys can use nothing else. */
export const ASSERTION_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA"
] as const
export type AssertionAlgorithm = (typeof ASSERTION_ALGORITHMS)[number]

const Algorithm = Text.pipe(
  Schema.filter((s): s is AssertionAlgorithm => (ASSERTION_ALGORITHMS as ReadonlyArray<string>).includes(s), {
    message: (issue) => {
      const alg = String(issue.actual)
      if (/^hs\d+$/i.test(alg)) {
        return `${alg} is an HMAC algorithm: its key is a shared secret, and a token "signed" with the public key would pass; use one of ${ASSERTION_ALGORITHMS.join(", ")}`
      }
      if (alg.toLowerCase() === "none") return `"none" means unsigned tokens: anyone could write one`
      return `must be one of ${ASSERTION_ALGORITHMS.join(", ")}, got ${JSON.stringify(alg)}`
    }
  })
)

/** Only the proxy's assertion header; `Authorization` is allowed (oauth2-proxy sends `Bearer <id token>`). */
const AssertionHeader = HeaderToken.pipe(
  Schema.filter(
    (s) =>
      s.toLowerCase() === "authorization" ||
      !isHttpOwnHeader(s) ||
      `"${s}" is a header HTTP itself defines; name the header your proxy puts its signed token in (or Authorization)`
  )
)

const isLoopbackHost = (hostname: string) =>
  hostname === "localhost" || hostname === "[::1]" || /^127(\.\d{1,3}){3}$/.test(hostname)

/** The key set's URL: https, or http on a loopback host only (a sidecar); nobody on the path may swap the keys. */
const JwksUrl = Text.pipe(
  Schema.filter((s) => {
    let url: URL
    try {
      url = new URL(s)
    } catch {
      return `must be an https URL, got ${JSON.stringify(redactUrl(s))}`
    }
    if (url.protocol === "https:") return true
    if (url.protocol === "http:" && isLoopbackHost(url.hostname)) return true
    return `must be https unless its host is loopback (whoever can change the keys can sign in as anyone), got ${JSON.stringify(redactUrl(s))}`
  })
)

const NonEmpty = Text.pipe(Schema.filter((s) => s.trim() !== "" || "is empty"))
const ClaimName = NonEmpty

const Written = Schema.Struct({
  /** The header the proxy puts its token in; `Authorization` means `Bearer <token>`. */
  header: optionalKey("header", AssertionHeader),
  issuer: optionalKey("issuer", NonEmpty),
  audience: optionalKey(
    "audience",
    listOf(NonEmpty).pipe(Schema.filter((l) => l.length > 0 || "is empty; name the audience your proxy signs for"))
  ),
  jwksUrl: optionalKey("jwks_url", JwksUrl),
  jwksFile: optionalKey("jwks_file", NonEmpty),
  // Defaults are applied below, once the mode is on: an unset section prints (and reads back) as unset.
  algorithms: optionalKey(
    "algorithms",
    listOf(Algorithm).pipe(Schema.filter((l) => l.length > 0 || "is empty; omit it for RS256 and ES256"))
  ),
  clockToleranceSeconds: optionalKey("clock_tolerance_seconds", wholeNumber(0, 300, "seconds")),
  identityClaim: optionalKey("identity_claim", ClaimName),
  emailClaim: optionalKey("email_claim", ClaimName),
  nameClaim: optionalKey("name_claim", ClaimName),
  pictureClaim: optionalKey("picture_claim", ClaimName),
  /** A claim holding the user's groups as a JSON array of strings; no default (roles stay as they are). */
  groupsClaim: optionalKey("groups_claim", ClaimName)
})

const DEFAULTS = {
  algorithms: ["RS256", "ES256"],
  clockToleranceSeconds: 30,
  identityClaim: "sub",
  emailClaim: "email",
  nameClaim: "name",
  pictureClaim: "picture"
} as const

export type KeySource =
  { readonly kind: "url"; readonly url: string } | { readonly kind: "file"; readonly path: string }

export interface AssertionConfig {
  /** As configured (for messages); matching is case-insensitive. */
  readonly header: string
  readonly issuer: string
  readonly audience: ReadonlyArray<string>
  readonly keySource: KeySource
  readonly algorithms: ReadonlyArray<AssertionAlgorithm>
  readonly clockToleranceSeconds: number
  readonly identityClaim: string
  readonly emailClaim: string
  readonly nameClaim: string
  readonly pictureClaim: string
  readonly groupsClaim?: string | undefined
}

const AssertionConfigSelf = Schema.declare(
  (u: unknown): u is AssertionConfig => typeof u === "object" && u !== null && "keySource" in u
)

type WrittenValue = typeof Written.Type

/** `assertion`: undefined when nothing is written (header mode); otherwise complete, or an error per missing key. */
export const AssertionSection = Schema.transformOrFail(Written, Schema.UndefinedOr(AssertionConfigSelf), {
  strict: true,
  decode: (w, _, ast, input) => {
    const written = input as Record<string, unknown>
    if (Object.keys(written).length === 0) return ParseResult.succeed(undefined)
    const missing = (name: string, message: string) =>
      new ParseResult.Pointer(name, written, new ParseResult.Type(ast, undefined, message))
    const issues: Array<ParseResult.Pointer> = []
    if (w.header === undefined) {
      issues.push(
        missing(
          "header",
          `is required: the header your proxy puts its signed token in (e.g. "Cf-Access-Jwt-Assertion")`
        )
      )
    }
    if (w.issuer === undefined) issues.push(missing("issuer", "is required: the token's expected iss"))
    if (w.audience === undefined) issues.push(missing("audience", "is required: the token's expected aud (a list)"))
    if (w.jwksUrl === undefined && w.jwksFile === undefined) {
      issues.push(missing("jwks_url", "is required (or jwks_file): where the signing keys are"))
    }
    if (w.jwksUrl !== undefined && w.jwksFile !== undefined) {
      issues.push(missing("jwks_file", "set either jwks_url or jwks_file, not both"))
    }
    if (isNonEmptyArray(issues)) return ParseResult.fail(new ParseResult.Composite(ast, input, issues))
    const keySource: KeySource =
      w.jwksUrl !== undefined ? { kind: "url", url: w.jwksUrl } : { kind: "file", path: w.jwksFile! }
    return ParseResult.succeed({
      header: w.header!,
      issuer: w.issuer!,
      audience: w.audience!,
      keySource,
      algorithms: w.algorithms ?? DEFAULTS.algorithms,
      clockToleranceSeconds: w.clockToleranceSeconds ?? DEFAULTS.clockToleranceSeconds,
      identityClaim: w.identityClaim ?? DEFAULTS.identityClaim,
      emailClaim: w.emailClaim ?? DEFAULTS.emailClaim,
      nameClaim: w.nameClaim ?? DEFAULTS.nameClaim,
      pictureClaim: w.pictureClaim ?? DEFAULTS.pictureClaim,
      groupsClaim: w.groupsClaim
    })
  },
  encode: (config) =>
    ParseResult.succeed<WrittenValue>(
      config === undefined
        ? // Off: nothing written, so check-config prints every key unset and that reads back as off.
          {
            header: undefined,
            issuer: undefined,
            audience: undefined,
            jwksUrl: undefined,
            jwksFile: undefined,
            algorithms: undefined,
            clockToleranceSeconds: undefined,
            identityClaim: undefined,
            emailClaim: undefined,
            nameClaim: undefined,
            pictureClaim: undefined,
            groupsClaim: undefined
          }
        : {
            ...config,
            jwksUrl: config.keySource.kind === "url" ? config.keySource.url : undefined,
            jwksFile: config.keySource.kind === "file" ? config.keySource.path : undefined
          }
    )
})
