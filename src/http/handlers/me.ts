import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { Effect } from "effect"
import { authenticatedApi } from "../Authentication.js"

export const MeRoutes = HttpLayerRouter.addAll(
  Effect.map(authenticatedApi, (authenticated) => [
    // The Me schema shows only its own fields of the user.
    authenticated.route("me", "me", (_, { user }) => Effect.succeed(user))
  ])
)
