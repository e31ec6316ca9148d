/*
 * The pages' HTML files hold two kinds of slot: `{{name}}`, replaced by HTML-escaped text, and
 * `{{#name}}…{{/name}}`, a section kept only when its flag is true. A file whose slots differ
 * from the ones its code fills is refused when it is loaded, not rendered half-filled.
 */

/** Escapes text for an HTML text node or a double-quoted attribute. */
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

const SECTION = /\{\{#(\w+)\}\}([\s\S]*?)\{\{\/\1\}\}/g
const TEXT = /\{\{(\w+)\}\}/g

const names = (source: string, pattern: RegExp): Set<string> =>
  new Set(Array.from(source.matchAll(pattern), (m) => m[1]!))

const sameNames = (found: Set<string>, expected: ReadonlyArray<string>): boolean =>
  found.size === expected.length && expected.every((name) => found.has(name))

/**
 * Checks `source` (the file `file`) against the text slots and flags its code fills, and returns
 * its renderer. Throws when they differ, or when a `{{` is left that is neither.
 */
export const htmlTemplate = <const Text extends string, const Flag extends string = never>(
  file: string,
  source: string,
  slots: { readonly text: ReadonlyArray<Text>; readonly flags?: ReadonlyArray<Flag> }
): ((values: { readonly [K in Text]: string } & { readonly [K in Flag]: boolean }) => string) => {
  const flags = slots.flags ?? []
  const opened = source.replace(SECTION, (_, __, inner: string) => inner)
  if (
    !sameNames(names(source, SECTION), flags) ||
    !sameNames(names(opened, TEXT), slots.text) ||
    opened.replace(TEXT, "").includes("{{")
  ) {
    throw new Error(
      `${file}: its slots are not the ones Headtower fills (text: ${slots.text.join(", ")}; sections: ${
        flags.join(", ") || "none"
      })`
    )
  }
  return (values) =>
    source
      .replace(SECTION, (_, name: Flag, inner: string) => (values[name] ? inner : ""))
      .replace(TEXT, (_, name: Text) => escapeHtml(values[name]))
}
