import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { Effect } from "effect"
import { CurrentUser, HeadtowerApi } from "../Api.js"
import { meView } from "./views.js"

export const MeLive = HttpApiBuilder.group(HeadtowerApi, "me", (handlers) =>
  handlers.handle("me", () => Effect.map(CurrentUser, ({ user }) => meView(user)))
)
