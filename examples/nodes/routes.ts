import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { Effect } from "effect"
import { apiAuthentication, HeadscaleClient, type HeadscaleNode, type User } from "headtower"
import { NodesApi } from "./api.js"

/** The page: who asked, and each node's name and whether it is online. */
const nodesPage = (user: User, nodes: ReadonlyArray<HeadscaleNode>) => ({
  viewer: user.identity,
  nodes: nodes.map((node) => ({ name: node.givenName || node.name, online: node.online }))
})

/**
 * The backend's routes: `/api/nodes` for signed-in users whose role may read machines (the
 * handler is handed who they are and the Headscale credentials of the request), `/healthz` for
 * anyone. The region is the README's "Embedding" code (test/docs/readme-embedding.test.ts).
 */
// #region embedding
export const NodesRoutes = HttpLayerRouter.addAll(
  Effect.gen(function* () {
    const api = yield* apiAuthentication(NodesApi)
    const headscale = yield* HeadscaleClient
    return [
      api
        .requiring("read_machines")
        .route("nodes", "list", (_, { user, credentials }) =>
          Effect.map(headscale.listNodes(credentials), (nodes) => nodesPage(user, nodes))
        ),
      api.route("health", "healthz", () => Effect.succeed({ status: "ok" as const }))
    ]
  })
)
// #endregion
