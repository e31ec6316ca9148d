import { printable, quoted } from "../display.js"
import { CONFIG_KEYS, type KeyKind, type KeyTree } from "./keys.js"
import { suggest } from "./suggest.js"

/*
 * The raw configuration tree: YAML merged with environment overrides, every key checked
 * against CONFIG_KEYS and every leaf against its kind, before any meaning is given to values.
 */

export interface ConfigIssue {
  /** Key path such as `server.proxy_auth.allowed_cidrs[1]`, or the variable's name. */
  readonly path: string
  readonly message: string
}

export type RawValue = string | number | boolean | ReadonlyArray<string>
export interface RawTree {
  [key: string]: RawValue | RawTree | undefined
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

/** The key's spec, looked up among the tree's own keys only: `constructor` or `__proto__` is no key. */
const specOf = (tree: KeyTree, key: string): KeyKind | KeyTree | undefined => (Object.hasOwn(tree, key) ? tree[key] : undefined)

const describe = (v: unknown): string =>
  v === null ? "null" : Array.isArray(v) ? "a list" : typeof v === "string" ? `string ${quoted(v)}` : `${typeof v} ${printable(JSON.stringify(v) ?? String(v))}`

const checkLeaf = (kind: KeyKind, value: unknown, path: string, issues: Array<ConfigIssue>): RawValue | undefined => {
  switch (kind) {
    case "string":
      if (typeof value === "string") return value
      break
    case "boolean":
      if (typeof value === "boolean") return value
      break
    case "number":
      if (typeof value === "number" && Number.isFinite(value)) return value
      break
    case "list":
      if (Array.isArray(value)) {
        const bad = value.findIndex((item) => typeof item !== "string")
        if (bad === -1) return value as ReadonlyArray<string>
        issues.push({ path: `${path}[${bad}]`, message: `must be a string, got ${describe(value[bad])}` })
        return undefined
      }
      break
    case "section":
      break
  }
  issues.push({ path, message: `must be ${kind === "list" ? "a list of strings" : `a ${kind}`}, got ${describe(value)}` })
  return undefined
}

/** Checks a parsed YAML document against the key tree; unknown keys name their likely intent. */
export const checkTree = (value: unknown, tree: KeyTree = CONFIG_KEYS, prefix = ""): { tree: RawTree; issues: Array<ConfigIssue> } => {
  const issues: Array<ConfigIssue> = []
  const out: RawTree = {}
  if (value === null || value === undefined) return { tree: out, issues }
  if (!isMap(value)) {
    issues.push({ path: prefix || "(document)", message: `must be a mapping, got ${describe(value)}` })
    return { tree: out, issues }
  }
  for (const [key, child] of Object.entries(value)) {
    const path = prefix ? `${prefix}.${key}` : key
    const spec = specOf(tree, key)
    if (spec === undefined) {
      const hint = suggest(key, Object.keys(tree))
      issues.push({ path, message: `unknown key${hint ? `; did you mean "${hint}"?` : ""}` })
      continue
    }
    if (child === null || child === undefined) continue
    if (typeof spec === "string") {
      const leaf = checkLeaf(spec, child, path, issues)
      if (leaf !== undefined) out[key] = leaf
    } else {
      const nested = checkTree(child, spec, path)
      issues.push(...nested.issues)
      out[key] = nested.tree
    }
  }
  return { tree: out, issues }
}

const ENV_PREFIX = "HEADTOWER_"
/** Variables that are not configuration keys. */
const ENV_RESERVED = new Set(["HEADTOWER_CONFIG"])

const envName = (path: ReadonlyArray<string>) => ENV_PREFIX + path.join("__").toUpperCase()

const allEnvNames = (tree: KeyTree, path: ReadonlyArray<string> = []): Array<string> =>
  Object.entries(tree).flatMap(([key, spec]) =>
    typeof spec === "string" ? [envName([...path, key])] : allEnvNames(spec, [...path, key])
  )

const coerce = (kind: KeyKind, text: string): RawValue | undefined => {
  switch (kind) {
    case "boolean":
      return /^(true|1|yes)$/i.test(text) ? true : /^(false|0|no)$/i.test(text) ? false : undefined
    case "number":
      return text.trim() !== "" && Number.isFinite(Number(text)) ? Number(text) : undefined
    case "list":
      return text.split(",").map((s) => s.trim()).filter((s) => s !== "")
    default:
      return text
  }
}

/**
 * Environment overrides: `HEADTOWER_<SECTION>__<KEY>` (path segments joined by `__`), e.g.
 * `HEADTOWER_HEADSCALE__API_KEY`, `HEADTOWER_SERVER__PROXY_AUTH__ALLOWED_CIDRS=10.0.0.0/8,::1`.
 * The standard OpenTelemetry variables feed the telemetry section when it is not set.
 */
export const applyEnv = (tree: RawTree, env: Readonly<Record<string, string | undefined>>): Array<ConfigIssue> => {
  const issues: Array<ConfigIssue> = []
  const set = (path: ReadonlyArray<string>, value: RawValue) => {
    let node = tree
    for (const segment of path.slice(0, -1)) {
      const next = node[segment]
      if (!isMap(next)) node[segment] = {}
      node = node[segment] as RawTree
    }
    node[path[path.length - 1]!] = value
  }
  for (const [name, text] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || ENV_RESERVED.has(name) || text === undefined) continue
    const path = name.slice(ENV_PREFIX.length).toLowerCase().split("__")
    let spec: KeyKind | KeyTree | undefined = CONFIG_KEYS
    for (const segment of path) spec = typeof spec === "object" ? specOf(spec, segment) : undefined
    // Names match in upper case only, so two variables differing in case cannot both name one key.
    if (typeof spec !== "string" || name !== envName(path)) {
      const hint = suggest(name, allEnvNames(CONFIG_KEYS))
      issues.push({ path: name, message: `unknown variable${hint ? `; did you mean ${hint}?` : ""}` })
      continue
    }
    const value = coerce(spec, text)
    if (value === undefined) issues.push({ path: name, message: `must be a ${spec}, got ${quoted(text)}` })
    else set(path, value)
  }
  const telemetry = (tree.telemetry ?? {}) as RawTree
  if (telemetry.otlp_endpoint === undefined && env.OTEL_EXPORTER_OTLP_ENDPOINT) {
    set(["telemetry", "otlp_endpoint"], env.OTEL_EXPORTER_OTLP_ENDPOINT)
  }
  if (telemetry.service_name === undefined && env.OTEL_SERVICE_NAME) set(["telemetry", "service_name"], env.OTEL_SERVICE_NAME)
  return issues
}
