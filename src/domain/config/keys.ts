import { Option, SchemaAST as AST } from "effect"
import { ConfigSchema } from "../AppConfig.js"
import { Shown } from "./fields.js"

/*
 * The configuration's keys as a tree, read from the one description (ConfigSchema) rather
 * than written again: what unknown keys are compared with, what environment variables map
 * onto, and how `check-config` prints each value.
 */

/** `map`: a mapping whose keys the file chooses (role_mapping), a value as a whole. */
export type LeafKind = "string" | "boolean" | "number" | "list" | "map"

type ConfigKey =
  | { readonly kind: LeafKind; readonly shown: Shown | undefined; readonly secret: boolean }
  | { readonly kind: "section"; readonly keys: ReadonlyMap<string, ConfigKey> }

export type SectionKey = Extract<ConfigKey, { kind: "section" }>

/** The schema as the file writes it: checks and transformations peeled off, how to print kept. */
const written = (schema: AST.AST): { readonly ast: AST.AST; readonly shown: Shown | undefined } => {
  let ast = schema
  let shown: Shown | undefined
  for (;;) {
    shown ??= ast.annotations[Shown] as Shown | undefined
    if (ast._tag !== "Refinement" && ast._tag !== "Transformation") return { ast, shown }
    ast = ast.from
  }
}

/** Whether a key's decoded value may hold a `Redacted`: then it is a secret wherever it is printed. */
const holdsSecret = (ast: AST.AST): boolean => {
  switch (ast._tag) {
    case "Declaration":
      return (
        AST.getTypeConstructorAnnotation(ast).pipe(
          Option.exists((c) => (c as { _tag?: unknown })._tag === "effect/Redacted")
        ) || ast.typeParameters.some(holdsSecret)
      )
    case "Transformation":
      return holdsSecret(ast.from) || holdsSecret(ast.to)
    case "Refinement":
      return holdsSecret(ast.from)
    case "Union":
      return ast.types.some(holdsSecret)
    case "TypeLiteral":
      return ast.propertySignatures.some((p) => holdsSecret(p.type))
    case "TupleType":
      return [...ast.elements, ...ast.rest].some((e) => holdsSecret(e.type))
    default:
      return false
  }
}

const keyOf = (schema: AST.AST): ConfigKey => {
  const { ast, shown } = written(schema)
  const leaf = (kind: LeafKind): ConfigKey => ({ kind, shown, secret: holdsSecret(schema) })
  switch (ast._tag) {
    case "TypeLiteral":
      if (ast.indexSignatures.length > 0) return leaf("map")
      return { kind: "section", keys: new Map(ast.propertySignatures.map((p) => [String(p.name), keyOf(p.type)])) }
    case "StringKeyword":
      return leaf("string")
    case "BooleanKeyword":
      return leaf("boolean")
    case "NumberKeyword":
      return leaf("number")
    case "TupleType":
      return leaf("list")
    default:
      throw new Error(`ConfigSchema: a key of type ${ast._tag} has no written form`)
  }
}

export const CONFIG_KEYS = keyOf(ConfigSchema.ast) as SectionKey

/** Every leaf key with its path, in the description's order. */
export const leaves = (
  section: SectionKey = CONFIG_KEYS,
  path: ReadonlyArray<string> = []
): Array<{ readonly path: ReadonlyArray<string>; readonly kind: LeafKind }> =>
  [...section.keys].flatMap(([name, key]) =>
    key.kind === "section" ? leaves(key, [...path, name]) : [{ path: [...path, name], kind: key.kind }]
  )

/** The section at a key path, if there is one. */
export const sectionAt = (path: ReadonlyArray<PropertyKey>): SectionKey | undefined => {
  let section: ConfigKey | undefined = CONFIG_KEYS
  for (const name of path) section = section?.kind === "section" ? section.keys.get(String(name)) : undefined
  return section?.kind === "section" ? section : undefined
}
