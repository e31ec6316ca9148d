/**
 * Test layers for specs of Headtower and of backends that embed it (`headtower/testing`): each
 * is one `Layer` to provide in `@effect/vitest`. Stable API, like the package's entry point.
 */
import { Context, Effect, Layer, Option, Redacted } from "effect"
import type { AuthenticationError } from "../domain/errors.js"
import { UserNotFound, UserStoreUnavailable } from "../domain/errors.js"
import { Identity, User, UserId } from "../domain/User.js"
import { type Authenticated, Authenticator } from "../services/Authenticator.js"
import { HeadscaleClient, headscaleHttpClientLayer } from "../services/HeadscaleClient.js"
import { Settings } from "../services/Settings.js"
import { UserRepository } from "../services/UserRepository.js"
import { TEST_API_KEY, testConfig } from "./config.js"
import {
  type FakeHeadscaleOptions,
  type FakeHeadscale as FakeHeadscaleHandle,
  startFakeHeadscale
} from "./fakeHeadscale.js"

export { type ProxyAuthOverrides, TEST_API_KEY, testConfig, testConfigLayer } from "./config.js"
export {
  type FakeHeadscaleFault,
  type FakeHeadscaleMode,
  type FakeHeadscaleOptions,
  type RecordedRequest,
  sampleNodes,
  sampleUsers,
  startFakeHeadscale,
  type WireNode,
  type WireUser
} from "./fakeHeadscale.js"

/** A signed-in user for specs: `proxy:<name>`, a member unless told, enabled, seen now. */
export const testUser = (name: string, fields: Partial<Omit<User, "identity">> = {}): User => {
  const now = new Date()
  return new User({
    id: UserId.make(`user-${name}`),
    identity: Identity.make(`proxy:${name}`),
    email: null,
    name: null,
    picture: null,
    role: "member",
    disabled: false,
    createdAt: now,
    lastSeenAt: now,
    ...fields
  })
}

/**
 * An Authenticator whose every request signs in `user` (with the test API key and client IP
 * 127.0.0.1), the test configuration as `Settings` (the routes read its header names), and a
 * user store that holds `user` alone, as it is (so a capability guard judges its role); any
 * other store method dies loudly.
 */
export const signedIn = (user: User, settings = testConfig()) => {
  const authenticated: Authenticated = {
    user,
    credentials: { apiKey: Option.getOrElse(settings.headscale.apiKey, () => Redacted.make(TEST_API_KEY)) },
    clientIp: "127.0.0.1"
  }
  const notFound = new UserNotFound({ message: "No such user" })
  const store = storeWith({
    get: (id) => (id === user.id ? Effect.succeed(user) : Effect.fail(notFound)),
    findByIdentity: (identity) => Effect.succeed(identity === user.identity ? Option.some(user) : Option.none())
  })
  return Layer.merge(
    authenticatorLayer(() => Effect.succeed(authenticated), settings),
    store
  )
}

/**
 * An Authenticator that refuses every request with `error` (its status is the error's own), the
 * test `Settings`, and a user store no refused request may reach (each method dies loudly).
 */
export const refusedWith = (error: AuthenticationError, settings = testConfig()) =>
  Layer.merge(
    authenticatorLayer(() => Effect.fail(error), settings),
    storeWith({})
  )

/** A user store with only `methods`; any other dies loudly, naming itself. */
const storeWith = (methods: Partial<UserRepository>) => {
  const unused = (name: string) => () => Effect.die(`UserRepository.${name} is not part of this test's store`)
  return Layer.succeed(
    UserRepository,
    UserRepository.make({
      get: unused("get"),
      findByIdentity: unused("findByIdentity"),
      list: unused("list"),
      touchLastSeen: unused("touchLastSeen"),
      provision: unused("provision"),
      setRole: unused("setRole"),
      setDisabled: unused("setDisabled"),
      audit: unused("audit"),
      ...methods
    })
  )
}

const authenticatorLayer = (authenticate: Authenticator["authenticate"], settings: ReturnType<typeof testConfig>) =>
  Layer.merge(
    Layer.succeed(Authenticator, Authenticator.make({ authenticate, authenticateNow: () => undefined })),
    Layer.succeed(Settings, settings)
  )

/**
 * The real user store over a private in-memory SQLite database, migrated, fresh each time the
 * layer is built: the one-owner and last-owner rules are the store's own, not a copy.
 */
export const InMemoryUserStore = UserRepository.Default.pipe(Layer.provide(Layer.succeed(Settings, testConfig())))

/** A user store every method of which fails with `UserStoreUnavailable` (503), as a store that is down does. */
export const UnavailableUserStore = Layer.sync(UserRepository, () => {
  const down = () => Effect.fail(new UserStoreUnavailable({ message: "The user store is unavailable" }))
  return UserRepository.make({
    get: down,
    findByIdentity: down,
    list: down,
    touchLastSeen: down,
    provision: down,
    setRole: down,
    setDisabled: down,
    audit: down
  })
})

/** The running fake Headscale of `FakeHeadscaleLive`: its URL, recorded requests, faults and data. */
export class FakeHeadscale extends Context.Tag("headtower/testing/FakeHeadscale")<
  FakeHeadscale,
  FakeHeadscaleHandle
>() {}

/**
 * A fake Headscale on a loopback socket (the 0.29 REST contract; see fakeHeadscale.ts), and the
 * real HeadscaleClient pointed at it with its API key; closed when the layer is released.
 */
export const FakeHeadscaleLive = (options: Partial<FakeHeadscaleOptions> = {}) =>
  Layer.unwrapScoped(
    Effect.gen(function* () {
      const fake = yield* Effect.acquireRelease(
        Effect.promise(() => startFakeHeadscale({ apiKey: TEST_API_KEY, ...options })),
        (fake) => Effect.promise(() => fake.close())
      )
      const base = testConfig()
      const settings = {
        ...base,
        headscale: {
          ...base.headscale,
          url: fake.url,
          apiKey: Option.some(Redacted.make(options.apiKey ?? TEST_API_KEY))
        }
      }
      return Layer.merge(
        Layer.succeed(FakeHeadscale, fake),
        HeadscaleClient.Default.pipe(
          Layer.provide(headscaleHttpClientLayer),
          Layer.provide(Layer.succeed(Settings, settings))
        )
      )
    })
  )
