import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import { Schema } from "effect"

/*
 * Errors a caller can act on. Each carries only a human message: the HTTP edge encodes them
 * as `{ _tag, message }`, so nothing here may name the CIDR configuration or a secret.
 * Details for operators go to the rejection log line and span attributes instead.
 */

export class ProxyAuthDisabled extends Schema.TaggedError<ProxyAuthDisabled>()(
  "ProxyAuthDisabled",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 401 })
) {}

/** The client (or the direct peer when no forwarded header applies) is outside `allowed_cidrs`. */
export class ClientNotAllowed extends Schema.TaggedError<ClientNotAllowed>()(
  "ClientNotAllowed",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 403 })
) {}

/**
 * With server.tls.client_ca_file set: the connection presented no client certificate, one that
 * did not verify against that CA, or one naming no allowed client.
 */
export class UntrustedClientCertificate extends Schema.TaggedError<UntrustedClientCertificate>()(
  "UntrustedClientCertificate",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 403 })
) {}

export class MissingIdentityHeader extends Schema.TaggedError<MissingIdentityHeader>()(
  "MissingIdentityHeader",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 401 })
) {}

/** An identity header (or the ip_header) was sent more than once. */
export class AmbiguousHeader extends Schema.TaggedError<AmbiguousHeader>()(
  "AmbiguousHeader",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 400 })
) {}

export class InvalidHeader extends Schema.TaggedError<InvalidHeader>()(
  "InvalidHeader",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 400 })
) {}

/** A trusted proxy sent an `ip_header` that is missing, empty or names no usable address. */
export class InvalidForwardedAddress extends Schema.TaggedError<InvalidForwardedAddress>()(
  "InvalidForwardedAddress",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 400 })
) {}

export class UserDisabled extends Schema.TaggedError<UserDisabled>()(
  "UserDisabled",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 403 })
) {}

export class UserStoreUnavailable extends Schema.TaggedError<UserStoreUnavailable>()(
  "UserStoreUnavailable",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 503 })
) {}

export class UserNotFound extends Schema.TaggedError<UserNotFound>()(
  "UserNotFound",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {}

/** Demoting or disabling the last owner would leave the instance without one. */
export class LastOwner extends Schema.TaggedError<LastOwner>()(
  "LastOwner",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

/**
 * With server.proxy_auth.role_mapping on, a role the mapping set (role source `groups`) is the
 * proxy's to change: a hand-made admin/member change would be undone at the next sign-in.
 * Promoting to owner and disabling still work.
 */
export class RoleManagedByGroups extends Schema.TaggedError<RoleManagedByGroups>()(
  "RoleManagedByGroups",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

export class Forbidden extends Schema.TaggedError<Forbidden>()(
  "Forbidden",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 403 })
) {}

/**
 * The request's header lines reached a limit the HTTP layer applies (their count or their size).
 * The whole request is refused: what was kept of a cut list is never judged.
 */
export class RequestHeadersTooLarge extends Schema.TaggedError<RequestHeadersTooLarge>()(
  "RequestHeadersTooLarge",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 431 })
) {}

/** The body is larger than the route accepts; refused as soon as that is known, never buffered whole. */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()(
  "PayloadTooLarge",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 413 })
) {}

/** A state-changing route was sent a body that is not `application/json`. */
export class UnsupportedMediaType extends Schema.TaggedError<UnsupportedMediaType>()(
  "UnsupportedMediaType",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 415 })
) {}

/** The body is not the JSON it declares (not UTF-8, or not JSON at all). */
export class MalformedBody extends Schema.TaggedError<MalformedBody>()(
  "MalformedBody",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 400 })
) {}

/** Assertion mode: the request carries no token in the configured header (or it is empty, or not `Bearer`). */
export class MissingAssertion extends Schema.TaggedError<MissingAssertion>()(
  "MissingAssertion",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 401 })
) {}

/** Why a token was refused: what an operator (and the client) can act on. */
export const AssertionReason = Schema.Literal(
  "malformed",
  "expired",
  "not yet valid",
  "wrong issuer",
  "wrong audience",
  "bad signature",
  "unknown key",
  "algorithm not allowed",
  "missing identity claim",
  "invalid groups claim"
)
export type AssertionReason = typeof AssertionReason.Type

/** Assertion mode: the token does not verify; `reason` says which check refused it. */
export class InvalidAssertion extends Schema.TaggedError<InvalidAssertion>()(
  "InvalidAssertion",
  { message: Schema.String, reason: AssertionReason },
  HttpApiSchema.annotations({ status: 401 })
) {}

/** Assertion mode: the signing keys could not be fetched, so no new token can be judged (fail closed). */
export class AssertionKeysUnavailable extends Schema.TaggedError<AssertionKeysUnavailable>()(
  "AssertionKeysUnavailable",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 503 })
) {}

/** Why a request's client IP could not be established; authenticate's first step. */
export type ClientIpError = ClientNotAllowed | InvalidForwardedAddress | AmbiguousHeader

export type IdentityError = MissingIdentityHeader | AmbiguousHeader | InvalidHeader

/** The assertion step's failures (it replaces the identity headers when `assertion` is configured). */
export type AssertionError = MissingAssertion | AmbiguousHeader | InvalidAssertion | AssertionKeysUnavailable

/**
 * The closed union `authenticate` fails with, declared once: its type, the API's statuses,
 * `explain`'s verdicts and the error page's titles are all derived from it.
 */
export const AuthenticationFailure = Schema.Union(
  ProxyAuthDisabled,
  ClientNotAllowed,
  UntrustedClientCertificate,
  MissingIdentityHeader,
  AmbiguousHeader,
  InvalidHeader,
  InvalidForwardedAddress,
  MissingAssertion,
  InvalidAssertion,
  AssertionKeysUnavailable,
  UserDisabled,
  UserStoreUnavailable
)
export type AuthenticationError = typeof AuthenticationFailure.Type
export type AuthenticationErrorTag = AuthenticationError["_tag"]

const STATUS = new Map<string, number>(
  AuthenticationFailure.members.map((error) => [error._tag, HttpApiSchema.getStatusError(error)])
)

/** The HTTP status the API answers for `error`: the one its schema carries. */
export const statusOf = (error: AuthenticationError): number => STATUS.get(error._tag)!
