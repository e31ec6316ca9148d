import { readFileSync } from "node:fs"
import { type Agent, request } from "node:https"
import type { TLSSocket } from "node:tls"
import type { KeyPair } from "./certificates.js"
import { type RawResponse, readResponse } from "./net.js"

export interface TlsRequest {
  readonly port: number
  readonly path: string
  readonly method?: string
  readonly headers?: ReadonlyArray<readonly [string, string]>
  /** The CA file Headtower's certificate is verified with; undefined: not verified (readiness probes). */
  readonly ca: string | undefined
  /** The client certificate to present. */
  readonly cert?: KeyPair
  /** A session from an earlier response, to resume (TLS 1.3 ticket or TLS 1.2 session). */
  readonly session?: Buffer
  readonly maxVersion?: "TLSv1.2" | "TLSv1.3"
  readonly localAddress?: string
  /** A keep-alive agent, to send several requests over one connection; by default a fresh connection. */
  readonly agent?: Agent
}

export interface TlsResponse extends RawResponse {
  /** Whether the handshake resumed `session` instead of making a new one. */
  readonly sessionReused: boolean
  /** The last session the server issued on this connection, to resume later. */
  readonly session: Buffer | undefined
  /** SHA-256 fingerprint of the certificate Headtower presented. */
  readonly serverFingerprint: string
  readonly socket: TLSSocket
}

/** One HTTPS request; no default headers beyond Host, no agent unless given. */
export const tlsRequest = (options: TlsRequest): Promise<TlsResponse> =>
  new Promise((resolve, reject) => {
    const headers: Array<string> = ["Host", `127.0.0.1:${options.port}`]
    for (const [name, value] of options.headers ?? []) headers.push(name, value)
    let session: Buffer | undefined
    const req = request(
      {
        host: "127.0.0.1",
        port: options.port,
        path: options.path,
        method: options.method ?? "GET",
        headers,
        agent: options.agent ?? false,
        localAddress: options.localAddress,
        timeout: 10_000,
        ...(options.ca === undefined ? { rejectUnauthorized: false } : { ca: readFileSync(options.ca) }),
        ...(options.cert === undefined
          ? {}
          : { cert: readFileSync(options.cert.cert), key: readFileSync(options.cert.key) }),
        ...(options.session === undefined ? {} : { session: options.session }),
        ...(options.maxVersion === undefined ? {} : { maxVersion: options.maxVersion })
      },
      (res) => {
        const socket = res.socket as TLSSocket
        readResponse(res).then(
          (response) =>
            resolve({
              ...response,
              sessionReused: socket.isSessionReused(),
              session: session ?? socket.getSession(),
              serverFingerprint: socket.getPeerCertificate().fingerprint256,
              socket
            }),
          reject
        )
      }
    )
    req.on("socket", (socket) => socket.on("session", (ticket: Buffer) => (session = ticket)))
    req.on("timeout", () => req.destroy(new Error(`request to ${options.path} timed out`)))
    req.on("error", reject)
    req.end()
  })
