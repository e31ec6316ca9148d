import { Context } from "effect"
import type { AppConfig } from "../domain/AppConfig.js"

/** The validated configuration, parsed once at start-up; nothing else reads `process.env`. */
export class Config extends Context.Tag("headtower/Config")<Config, AppConfig>() {}
