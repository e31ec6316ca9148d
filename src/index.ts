/**
 * Headtower's proxy authentication as a library: what an Effect backend imports to sign its
 * own routes' users in through a trusted reverse proxy (README.md, "Embedding"). Everything
 * exported here (and from `headtower/testing`) is the stable API; any other module is private.
 */
import { Effect, Layer } from "effect"
import type { AppConfig } from "./domain/AppConfig.js"
import { ServicesLive } from "./http/Server.js"
import { loadConfig, Settings } from "./services/Settings.js"

// Configuration: decoded once, from Headtower's file and environment or from a host's own source.
export type { AppConfig, DatabaseConfig, ProxyAuthConfig } from "./domain/AppConfig.js"
export { type ConfigSource, type ParsedConfig, parseConfig } from "./domain/config/parse.js"
export { ConfigError, loadConfig, Settings } from "./services/Settings.js"

// The domain: users, roles, request facts, and the closed error union with its statuses.
export { Identity, type Profile, Role, User, UserId } from "./domain/User.js"
export { Capability, can, canManageUsers, canViewUsers, capabilitiesOf } from "./domain/permissions.js"
export { type HeaderLookup, type RequestFacts, requestFacts } from "./domain/RequestFacts.js"
export type { HeadscaleCredentials, HeadscaleNode } from "./domain/Headscale.js"
export {
  AmbiguousHeader,
  type AuthenticationError,
  AuthenticationFailure,
  ClientNotAllowed,
  Forbidden,
  InvalidForwardedAddress,
  InvalidHeader,
  LastOwner,
  MissingIdentityHeader,
  ProxyAuthDisabled,
  RoleManagedByGroups,
  statusOf,
  UntrustedClientCertificate,
  UserDisabled,
  UserNotFound,
  UserStoreUnavailable
} from "./domain/errors.js"
export {
  HeadscaleBadResponse,
  type HeadscaleError,
  HeadscaleTimeout,
  HeadscaleUnauthorized,
  HeadscaleUnavailable
} from "./domain/headscaleErrors.js"

// The services.
export { type Authenticated, Authenticator } from "./services/Authenticator.js"
export { UserRepository } from "./services/UserRepository.js"
export { HeadscaleClient } from "./services/HeadscaleClient.js"

// The HTTP edge: request facts, authenticated routes of a host's contract, serving behind the edge.
export { requestFactsOf } from "./http/requestFacts.js"
export { apiAuthentication, authenticatedRoute, CurrentUser } from "./http/Authentication.js"
export {
  ProxyAuthentication,
  ProxyAuthenticationLive,
  RequestBodyLimit,
  RequestBodyLimitLive,
  requireCapability
} from "./http/ProxyAuthentication.js"
export { RequestBodyRefusal } from "./http/Api.js"
export { HttpServerLive, serveRoutes } from "./http/Server.js"
export { redactHeadersInSpans, withTracing } from "./services/Tracing.js"

/**
 * The proxy-authentication services (Authenticator, UserRepository, HeadscaleClient and their
 * store) built from a decoded configuration, which they also provide as `Settings`. Fails with
 * `UserStoreUnavailable` when the user store cannot be opened or migrated.
 */
export const ProxyAuthLive = (config: AppConfig) =>
  ServicesLive.pipe(Layer.provideMerge(Layer.succeed(Settings, config)))

/** The same services from Headtower's configuration file and environment (`HEADTOWER_*`), as `headtower serve` reads them. */
export const ProxyAuthFromConfigFile = (path?: string) =>
  Layer.unwrapEffect(Effect.map(loadConfig(path), ProxyAuthLive))
