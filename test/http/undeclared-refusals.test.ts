import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import { describe, expectTypeOf, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { AuthenticationFailure, ClientNotAllowed, Forbidden } from "../../src/domain/errors.js"
import { RequestBodyRefusal } from "../../src/http/Api.js"
import { apiAuthentication } from "../../src/http/Authentication.js"

/*
 * A host contract that does not declare the refusals a route answers before its handler runs
 * (authenticate's closed union, the capability guard's Forbidden, the body's refusals) is
 * refused by the compiler when its routes are served: its encoder would not know them, and each
 * would be answered 500. `npm run typecheck` covers this file: each `@ts-expect-error` fails it
 * when the line below compiles. The routes are built in effects that are never run.
 */

const ok = () => Effect.succeed({ status: "ok" as const })
const Ok = Schema.Struct({ status: Schema.Literal("ok") })

/** A group for signed-in users that declares all of authenticate's refusals, and the guard's. */
class Guarded extends HttpApiGroup.make("guarded")
  .add(HttpApiEndpoint.get("get", "/guarded").addSuccess(Ok))
  .addError(Forbidden)
  .addError(AuthenticationFailure) {}

/** A group that declares authenticate's refusals but not Forbidden. */
class SignedIn extends HttpApiGroup.make("signedIn")
  .add(HttpApiEndpoint.get("get", "/signed-in").addSuccess(Ok))
  .addError(AuthenticationFailure) {}

/** A group that declares one of authenticate's refusals only. */
class Partial extends HttpApiGroup.make("partial")
  .add(HttpApiEndpoint.get("get", "/partial").addSuccess(Ok))
  .addError(ClientNotAllowed) {}

/** A group that declares none. */
class Open extends HttpApiGroup.make("open").add(HttpApiEndpoint.get("get", "/open").addSuccess(Ok)) {}

class HostApi extends HttpApi.make("host")
  .add(Guarded)
  .add(SignedIn)
  .add(Partial)
  .add(Open)
  .addError(RequestBodyRefusal) {}

/** The same groups in a contract that omits the body's refusals. */
class NoBodyRefusals extends HttpApi.make("noBody").add(Guarded).add(Open) {}

describe("a host contract's undeclared refusals, at compile time", () => {
  it("authenticated routes need authenticate's whole union declared; guarded ones Forbidden too", () => {
    const routes = Effect.gen(function* () {
      const api = yield* apiAuthentication(HostApi)
      // @ts-expect-error the group declares none of authenticate's refusals
      api.authenticated.route("open", "get", ok)
      // @ts-expect-error the group declares ClientNotAllowed but not the rest of the union
      api.authenticated.route("partial", "get", ok)
      // @ts-expect-error the group declares authenticate's refusals but not the guard's Forbidden
      api.requiring("read_users").route("signedIn", "get", ok)
      return [
        api.authenticated.route("signedIn", "get", ok),
        api.requiring("read_users").route("guarded", "get", ok),
        api.route("open", "get", ok)
      ]
    })
    expectTypeOf(routes).not.toBeNever()
  })

  it("every route needs the body's refusals declared, authenticated or not", () => {
    Effect.gen(function* () {
      const api = yield* apiAuthentication(NoBodyRefusals)
      // @ts-expect-error the contract does not declare PayloadTooLarge, UnsupportedMediaType, MalformedBody
      api.route("open", "get", ok)
      // @ts-expect-error the same, behind authentication
      api.requiring("read_users").route("guarded", "get", ok)
    })
  })
})
