import { Either } from "effect"
import type { X509Certificate } from "node:crypto"
import type { TlsConfig } from "./AppConfig.js"
import { UntrustedClientCertificate } from "./errors.js"
import { certificatesIn } from "./pem.js"

/*
 * The proxy's client certificate (mutual TLS): with `server.tls.client_ca_file`, identity is
 * believed only on a connection whose certificate verified against that CA and names an
 * allowed client. The TLS layer verifies the chain (OpenSSL, during the handshake); this file
 * judges what it reported, and is the one place that says which names count.
 */

/**
 * What a connection's client certificate showed, as the HTTP edge (or `explain --client-cert`)
 * read it. Absent from the request's facts when no certificate was presented, including a TLS
 * 1.3 session resumed from one made without a certificate (nodejs/node#35317: such a session
 * reports `authorized` with no peer certificate, so the certificate itself is what counts).
 */
export interface PeerCertificate {
  /** The subject's CN; undefined when it has none, or more than one (which would be ambiguous). */
  readonly commonName: string | undefined
  /** The DNS names of its subjectAltName. */
  readonly dnsNames: ReadonlyArray<string>
  /** SHA-256 fingerprint, for logs and spans. */
  readonly fingerprint256: string
  /** Why the chain did not verify against client_ca_file (OpenSSL's code, e.g. CERT_HAS_EXPIRED); undefined when it did. */
  readonly verifyError: string | undefined
}

/** The fields of Node's legacy certificate object (`getPeerCertificate()`, `X509Certificate.toLegacyObject()`) read here. */
export interface LegacyCertificate {
  readonly subject?: Readonly<Record<string, string | ReadonlyArray<string> | undefined>> | null
  readonly subjectaltname?: string | undefined
  readonly fingerprint256?: string | undefined
}

/**
 * The entries of Node's subjectAltName text: `DNS:a, IP Address:127.0.0.1`, where a value
 * holding a comma, quote or other special character is written as a JSON string
 * (CVE-2021-44532), so a crafted name cannot pass for two.
 */
const SAN_ENTRY = /([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/y

export const dnsNamesOf = (subjectAltName: string | undefined): ReadonlyArray<string> => {
  if (subjectAltName === undefined || subjectAltName === "") return []
  const names: Array<string> = []
  SAN_ENTRY.lastIndex = 0
  while (SAN_ENTRY.lastIndex < subjectAltName.length) {
    const match = SAN_ENTRY.exec(subjectAltName)
    // Text this parser does not understand names nothing: fail closed.
    if (match === null) return []
    const [, kind, raw] = match
    if (kind !== "DNS") continue
    try {
      names.push(raw!.startsWith('"') ? (JSON.parse(raw!) as string) : raw!)
    } catch {
      return []
    }
  }
  return names
}

export const peerCertificateOf = (legacy: LegacyCertificate, verifyError: string | undefined): PeerCertificate => {
  const cn = legacy.subject?.["CN"]
  return {
    commonName: typeof cn === "string" ? cn : undefined,
    dnsNames: dnsNamesOf(legacy.subjectaltname),
    fingerprint256: legacy.fingerprint256 ?? "",
    verifyError
  }
}

/** Names compare as DNS names do: ASCII letters in any case, nothing else folded, no wildcards. */
const nameKey = (name: string) => name.replace(/[A-Z]/g, (c) => c.toLowerCase())

export interface ClientCertificatePolicy {
  /** allowed_client_names as compared; empty: any certificate of the CA. */
  readonly allowedNames: ReadonlySet<string>
}

/** The policy of a configuration; undefined when no client_ca_file is set (no certificate is required). */
export const clientCertificatePolicy = (tls: TlsConfig): ClientCertificatePolicy | undefined =>
  tls.clientCaFile === undefined ? undefined : { allowedNames: new Set(tls.allowedClientNames.map(nameKey)) }

export interface CertificateAccepted {
  readonly certificate: PeerCertificate
  /** The allowed name the certificate carries; undefined when any certificate of the CA is allowed. */
  readonly name: string | undefined
}

export type CertificateRejectionReason = "no_certificate" | "not_verified" | "name_not_allowed"

export interface CertificateRejection {
  readonly reason: CertificateRejectionReason
  readonly certificate: PeerCertificate | undefined
  readonly error: UntrustedClientCertificate
}

const refuse = (
  reason: CertificateRejectionReason,
  certificate: PeerCertificate | undefined,
  message: string
): Either.Either<never, CertificateRejection> =>
  Either.left({ reason, certificate, error: new UntrustedClientCertificate({ message }) })

/** Whether the connection's certificate lets its identity claims be heard. Pure. */
export const decideClientCertificate = (
  policy: ClientCertificatePolicy,
  certificate: PeerCertificate | undefined
): Either.Either<CertificateAccepted, CertificateRejection> => {
  if (certificate === undefined) {
    return refuse(
      "no_certificate",
      undefined,
      "this connection presented no client certificate; identity is accepted only from the proxy's certificate"
    )
  }
  if (certificate.verifyError !== undefined) {
    return refuse(
      "not_verified",
      certificate,
      `the connection's client certificate is not trusted (${certificate.verifyError})`
    )
  }
  if (policy.allowedNames.size === 0) return Either.right({ certificate, name: undefined })
  const name = [certificate.commonName, ...certificate.dnsNames].find(
    (n) => n !== undefined && policy.allowedNames.has(nameKey(n))
  )
  return name === undefined
    ? refuse("name_not_allowed", certificate, "the connection's client certificate does not name an allowed client")
    : Either.right({ certificate, name })
}

/** The extendedKeyUsage OID a client certificate must allow when it restricts its usage. */
const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2"

/**
 * What the TLS layer would say of a certificate file (`explain --client-cert`): the chain
 * from its first certificate, through any others in the file, to a certificate of the CA
 * file; each valid at `now`; a client-auth usage when the leaf restricts its usage. Undefined
 * when it verifies, else the OpenSSL-style reason. OpenSSL's full checks (policies, name
 * constraints) are the handshake's; this covers what deployments get wrong.
 */
export const verifyChain = (
  chain: ReadonlyArray<X509Certificate>,
  authorities: ReadonlyArray<X509Certificate>,
  now: Date
): string | undefined => {
  const leaf = chain[0]
  if (leaf === undefined) return "NO_CERTIFICATE"
  const usages = leaf.keyUsage as ReadonlyArray<string> | undefined
  if (usages !== undefined && usages.length > 0 && !usages.includes(CLIENT_AUTH)) return "INVALID_PURPOSE"
  let current = leaf
  for (let depth = 0; depth <= chain.length; depth++) {
    if (new Date(current.validTo) < now) return "CERT_HAS_EXPIRED"
    if (new Date(current.validFrom) > now) return "CERT_NOT_YET_VALID"
    const anchor = authorities.find((ca) => current.checkIssued(ca) && current.verify(ca.publicKey))
    if (anchor !== undefined) {
      if (new Date(anchor.validTo) < now) return "CERT_HAS_EXPIRED"
      return undefined
    }
    const issuer = chain.find((c) => c !== current && c.ca && current.checkIssued(c) && current.verify(c.publicKey))
    // OpenSSL's codes: a lone leaf of an unknown issuer, or a chain that stops short of the CA.
    if (issuer === undefined)
      return depth === 0 ? "UNABLE_TO_VERIFY_LEAF_SIGNATURE" : "UNABLE_TO_GET_ISSUER_CERT_LOCALLY"
    current = issuer
  }
  return "UNABLE_TO_GET_ISSUER_CERT_LOCALLY"
}

const certificateNames = (certificate: PeerCertificate) =>
  [
    certificate.commonName === undefined ? "no single CN" : `CN ${JSON.stringify(certificate.commonName)}`,
    ...certificate.dnsNames.map((n) => `DNS ${JSON.stringify(n)}`)
  ].join(", ")

/** The decision in `explain`'s words. */
export const describeCertificate = (
  decision: Either.Either<CertificateAccepted, CertificateRejection>
): ReadonlyArray<string> => {
  if (Either.isRight(decision)) {
    const { certificate, name } = decision.right
    return [
      `client certificate: verified against server.tls.client_ca_file (${certificateNames(certificate)})`,
      name === undefined
        ? "client certificate: trusted (allowed_client_names is empty: any certificate of the CA)"
        : `client certificate: trusted, it names the allowed client ${JSON.stringify(name)}`
    ]
  }
  const { certificate, reason } = decision.left
  switch (reason) {
    case "no_certificate":
      return [
        "client certificate: none (server.tls.client_ca_file requires the proxy's certificate; use --client-cert FILE)"
      ]
    case "not_verified":
      return [`client certificate: does not verify against server.tls.client_ca_file (${certificate?.verifyError})`]
    case "name_not_allowed":
      return [
        `client certificate: verified, but it names no client of server.tls.allowed_client_names (${certificateNames(certificate!)})`
      ]
  }
}

/**
 * A certificate file as a connection presenting it would show it (`explain --client-cert`):
 * verified against the CA file's certificates at `now`. Left when the file holds none.
 */
export const peerCertificateFromPem = (
  pem: string,
  authorities: ReadonlyArray<X509Certificate>,
  now: Date
): Either.Either<PeerCertificate, string> =>
  Either.map(certificatesIn(pem), (chain) =>
    peerCertificateOf(chain[0]!.toLegacyObject(), verifyChain(chain, authorities, now))
  )
