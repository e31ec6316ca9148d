import { Effect, Either, Schema } from "effect"
import { type AppConfig, ConfigSchema } from "../AppConfig.js"
import { ConfigFiles } from "./fields.js"
import { CONFIG_KEYS, type SectionKey } from "./keys.js"

/** Encoding reads no file; the reader is there because the schema's decoding may. */
const noFiles = { readText: () => Either.left("files are not read when printing") }

/**
 * The effective configuration in the file's own shape, as `check-config` prints it: every
 * key, defaults filled in, unset ones as null; a key whose value holds a `Redacted` prints as
 * `<redacted>` unless its schema says otherwise (Shown).
 */
export const shownConfig = (config: AppConfig): unknown => {
  const written = Effect.runSync(
    Schema.encode(ConfigSchema)(config).pipe(Effect.provideService(ConfigFiles, noFiles))
  ) as Record<string, unknown>
  const show = (section: SectionKey, values: Record<string, unknown>): Record<string, unknown> =>
    Object.fromEntries(
      [...section.keys].flatMap(([name, key]) => {
        const value = values[name]
        if (key.kind === "section") return [[name, show(key, (value ?? {}) as Record<string, unknown>)]]
        const shown =
          key.shown !== undefined ? key.shown(value) : value === undefined ? null : key.secret ? "<redacted>" : value
        return shown === undefined ? [] : [[name, shown]]
      })
    )
  return show(CONFIG_KEYS, written)
}
