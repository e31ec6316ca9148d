import { Effect, Either, Redacted, Schema } from "effect"
import { createServer as createHttpServer, type Server, type ServerOptions } from "node:http"
import { createServer as createHttpsServer, type ServerOptions as HttpsServerOptions } from "node:https"
import type { Socket } from "node:net"
import { type SecureContextOptions, TLSSocket } from "node:tls"
import type { TlsConfig } from "../domain/AppConfig.js"
import { type PeerCertificate, peerCertificateOf } from "../domain/clientCertificate.js"
import { ConfigFiles, type FileReader } from "../domain/config/fields.js"
import { formatIssues, issuesOf } from "../domain/config/issues.js"
import { TlsSection } from "../domain/config/tls.js"
import { MAX_PEM_BYTES } from "../domain/pem.js"
import { readStartupFile } from "../services/startupFile.js"
import { HEADERS_TIMEOUT_MS } from "./limits.js"

/*
 * HTTPS, and the proxy's client certificate, at the edge. The handshake asks for a client
 * certificate and verifies it against client_ca_file, but never refuses a connection for it
 * (`rejectUnauthorized: false`): /healthz and /readyz stay reachable without one, and the
 * trust judgement refuses identity on such a connection (403).
 */

/** What the connection showed, read once per connection (a keep-alive connection serves many requests). */
const shown = new WeakMap<TLSSocket, PeerCertificate | null>()

const readPeerCertificate = (socket: TLSSocket): PeerCertificate | null => {
  const certificate = socket.getPeerCertificate()
  // nodejs/node#35317: a TLS 1.3 session resumed from one made without a certificate reports
  // `authorized` with an empty certificate. The certificate itself decides, not `authorized`.
  if (certificate === null || typeof certificate !== "object" || certificate.raw === undefined) return null
  const verifyError = socket.authorized ? undefined : String(socket.authorizationError ?? "UNABLE_TO_VERIFY_LEAF")
  return peerCertificateOf(certificate, verifyError)
}

/** The connection's client certificate, for the request's facts; undefined without TLS or without one. */
export const clientCertificateOf = (socket: Socket): PeerCertificate | undefined => {
  if (!(socket instanceof TLSSocket)) return undefined
  let certificate = shown.get(socket)
  if (certificate === undefined) {
    certificate = readPeerCertificate(socket)
    shown.set(socket, certificate)
  }
  return certificate ?? undefined
}

/** The TLS options of a configuration that serves HTTPS. */
const secureOptions = (
  tls: TlsConfig & { readonly certFile: NonNullable<TlsConfig["certFile"]> },
  keyFile: NonNullable<TlsConfig["keyFile"]>
): SecureContextOptions & HttpsServerOptions => ({
  cert: tls.certFile.pem,
  key: Redacted.value(keyFile.pem),
  minVersion: "TLSv1.2",
  ...(tls.clientCaFile === undefined
    ? {}
    : // Asked for and verified, never required by the handshake: the judgement decides.
      { ca: tls.clientCaFile.pem, requestCert: true, rejectUnauthorized: false })
})

/** Encoding reads no file; the reader is there because the section's decoding may. */
const noFiles: FileReader = { readText: () => Either.left("files are not read when encoding") }

/**
 * The section decoded again from the same paths: every file re-read and checked as at
 * start-up. Left with the problems (each naming its key) when one cannot be used.
 */
const rereadTls = (tls: TlsConfig) =>
  Effect.gen(function* () {
    const written = yield* Schema.encode(TlsSection)(tls).pipe(
      Effect.provideService(ConfigFiles, noFiles),
      Effect.orDie
    )
    const contents = new Map<string, Either.Either<string, string>>()
    for (const file of [tls.certFile, tls.keyFile, tls.clientCaFile]) {
      if (file !== undefined) contents.set(file.path, yield* readStartupFile(file.path, MAX_PEM_BYTES))
    }
    const files: FileReader = { readText: (path) => contents.get(path) ?? Either.left("not read") }
    return yield* Schema.decodeUnknown(TlsSection, { errors: "all" })(written).pipe(
      Effect.provideService(ConfigFiles, files),
      Effect.mapError((error) =>
        issuesOf(error).map((issue) => ({ ...issue, path: `server.tls${issue.path ? `.${issue.path}` : ""}` }))
      ),
      Effect.either
    )
  })

/**
 * On SIGHUP the certificate, key and CA files are read again and used for every new
 * handshake (`setSecureContext`); open connections are not touched. A file that cannot be
 * used is logged and the certificates in use stay.
 */
const reloadOnHangup = (
  server: ReturnType<typeof createHttpsServer>,
  initial: TlsConfig,
  run: (effect: Effect.Effect<void>) => void
) => {
  let current = initial
  const reload = Effect.gen(function* () {
    const read = yield* rereadTls(current)
    if (Either.isLeft(read)) {
      return yield* Effect.logError(`SIGHUP: TLS files not re-read; the ones in use stay:\n${formatIssues(read.left)}`)
    }
    const next = read.right
    server.setSecureContext(secureOptions({ ...next, certFile: next.certFile! }, next.keyFile!))
    current = next
    yield* Effect.logInfo("SIGHUP: TLS certificate, key and client CA re-read; new connections use them")
  }).pipe(Effect.catchAllDefect((defect) => Effect.logError("SIGHUP: TLS files not re-read", defect)))
  const onHangup = () => run(reload)
  process.on("SIGHUP", onHangup)
  server.once("close", () => process.off("SIGHUP", onHangup))
}

/**
 * Node's server for this configuration: HTTP, or HTTPS when server.tls names a certificate
 * (the config's relations make cert_file and key_file come together).
 */
export const createServer = (
  tls: TlsConfig,
  options: ServerOptions,
  run: (effect: Effect.Effect<void>) => void
): Server => {
  const { certFile, keyFile } = tls
  if (certFile === undefined || keyFile === undefined) return createHttpServer(options)
  const server = createHttpsServer({
    ...options,
    ...secureOptions({ ...tls, certFile }, keyFile),
    // A connection that never completes its handshake is held no longer than one that never sends its headers.
    handshakeTimeout: HEADERS_TIMEOUT_MS
  })
  // A client's certificate is read once per connection (clientCertificateOf): renegotiation,
  // which could swap it mid-connection (TLS 1.2), is refused.
  server.on("secureConnection", (socket: TLSSocket) => socket.disableRenegotiation())
  reloadOnHangup(server, tls, run)
  return server
}
