import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { Effect } from "effect"
import { CurrentUser, HeadtowerApi } from "../Api.js"

export const MeLive = HttpApiBuilder.group(HeadtowerApi, "me", (handlers) =>
  // The Me schema shows only its own fields of the user.
  handlers.handle("me", () => Effect.map(CurrentUser, ({ user }) => user))
)
