import type { ConfigIssue } from "../AppConfig.js"
import { quoted } from "../display.js"
import { describe } from "./fields.js"
import { CONFIG_KEYS, type LeafKind, leaves, type SectionKey } from "./keys.js"
import { suggest } from "./suggest.js"

/*
 * The configuration as written, before the schema gives it meaning: the YAML document with
 * every section present (an absent or empty one reads as `{}`, so its defaults apply) and
 * explicit nulls dropped ("not set"), then the environment's overrides laid over it.
 */

export interface RawTree {
  [key: string]: unknown
}

const isMap = (v: unknown): v is RawTree => typeof v === "object" && v !== null && !Array.isArray(v)

/** Gives every known section a mapping; keys the schema does not know are left for it to name. */
export const normalize = (document: unknown, issues: Array<ConfigIssue>): RawTree => {
  const walk = (value: unknown, section: SectionKey, path: string): RawTree => {
    if (value !== null && value !== undefined && !isMap(value)) {
      issues.push({ path: path || "(document)", message: `must be a mapping, got ${describe(value)}` })
    }
    const tree: RawTree = isMap(value) ? { ...value } : {}
    for (const [name, key] of section.keys) {
      const child = Object.hasOwn(tree, name) ? tree[name] : undefined
      if (key.kind === "section") tree[name] = walk(child, key, path ? `${path}.${name}` : name)
      else if (child === null) delete tree[name]
    }
    return tree
  }
  return walk(document, CONFIG_KEYS, "")
}

const ENV_PREFIX = "HEADTOWER_"
/** Variables that are not configuration keys. */
const ENV_RESERVED = new Set(["HEADTOWER_CONFIG"])

const envName = (path: ReadonlyArray<string>) => ENV_PREFIX + path.join("__").toUpperCase()

/** Every variable that names a key, e.g. HEADTOWER_SERVER__PROXY_AUTH__ALLOWED_CIDRS. */
const ENV_KEYS = new Map(leaves().map((leaf) => [envName(leaf.path), leaf]))

const coerce = (kind: LeafKind, text: string): unknown => {
  switch (kind) {
    case "boolean":
      return /^(true|1|yes)$/i.test(text) ? true : /^(false|0|no)$/i.test(text) ? false : undefined
    case "number":
      return text.trim() !== "" && Number.isFinite(Number(text)) ? Number(text) : undefined
    case "list":
      return text
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "")
    case "string":
      return text
    case "map": {
      // JSON keeps the order written, which is role_mapping's precedence.
      try {
        const value: unknown = JSON.parse(text)
        return typeof value === "object" && value !== null && !Array.isArray(value) ? value : undefined
      } catch {
        return undefined
      }
    }
  }
}

const setAt = (tree: RawTree, path: ReadonlyArray<string>, value: unknown) => {
  let node = tree
  for (const segment of path.slice(0, -1)) node = node[segment] as RawTree
  node[path[path.length - 1]!] = value
}

/**
 * Environment overrides: `HEADTOWER_<SECTION>__<KEY>` (path segments joined by `__`), e.g.
 * `HEADTOWER_HEADSCALE__API_KEY`, `HEADTOWER_SERVER__PROXY_AUTH__ALLOWED_CIDRS=10.0.0.0/8,::1`;
 * a mapping as JSON, `HEADTOWER_SERVER__PROXY_AUTH__ROLE_MAPPING={"admin":["ops"]}`.
 * The standard OpenTelemetry variables feed the telemetry section when it is not set.
 */
export const applyEnv = (tree: RawTree, env: Readonly<Record<string, string | undefined>>): Array<ConfigIssue> => {
  const issues: Array<ConfigIssue> = []
  for (const [name, text] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || ENV_RESERVED.has(name) || text === undefined) continue
    // Names match in upper case only, so two variables differing in case cannot both name one key.
    const leaf = ENV_KEYS.get(name)
    if (leaf === undefined) {
      const hint = suggest(name, ENV_KEYS.keys())
      issues.push({ path: name, message: `unknown variable${hint ? `; did you mean ${hint}?` : ""}` })
      continue
    }
    const value = coerce(leaf.kind, text)
    if (value === undefined) {
      const kind = leaf.kind === "map" ? "JSON object" : leaf.kind
      issues.push({ path: name, message: `must be a ${kind}, got ${quoted(text)}` })
    } else setAt(tree, leaf.path, value)
  }
  const telemetry = tree.telemetry as RawTree
  if (telemetry.otlp_endpoint === undefined && env.OTEL_EXPORTER_OTLP_ENDPOINT) {
    telemetry.otlp_endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT
  }
  if (telemetry.service_name === undefined && env.OTEL_SERVICE_NAME) telemetry.service_name = env.OTEL_SERVICE_NAME
  return issues
}
