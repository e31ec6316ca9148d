import { connect, createServer, type Socket } from "node:net"

/*
 * A TCP relay between a proxy and Headtower that reads, without touching them, the first
 * bytes Headtower answers on each connection: the TLS 1.3 ServerHello, whose pre_shared_key
 * extension says the handshake resumed an earlier session. It is how a test knows that nginx
 * really resumed its upstream sessions, instead of assuming it.
 */

export interface RelayedConnection {
  /** Whether Headtower's ServerHello accepted a pre-shared key (a resumed TLS 1.3 session); undefined before it was read. */
  resumed: boolean | undefined
}

export interface TlsRelay {
  readonly port: number
  readonly connections: ReadonlyArray<RelayedConnection>
  readonly close: () => Promise<void>
}

const PRE_SHARED_KEY = 41

/** The extension types of a TLS 1.3 ServerHello at the start of `bytes`; undefined until it is complete. */
const serverHelloExtensions = (bytes: Buffer): ReadonlyArray<number> | undefined => {
  if (bytes.length < 5) return undefined
  if (bytes[0] !== 22) return [] // not a handshake record: nothing to learn
  const recordEnd = 5 + bytes.readUInt16BE(3)
  if (bytes.length < recordEnd) return undefined
  let at = 5
  if (bytes[at] !== 2) return [] // not a ServerHello
  at += 4 + 2 + 32 // handshake header, legacy_version, random
  at += 1 + bytes[at]! // legacy_session_id_echo
  at += 2 + 1 // cipher_suite, legacy_compression_method
  const end = at + 2 + bytes.readUInt16BE(at)
  at += 2
  const types: Array<number> = []
  while (at + 4 <= end) {
    types.push(bytes.readUInt16BE(at))
    at += 4 + bytes.readUInt16BE(at + 2)
  }
  return types
}

/** Relays 127.0.0.1:<port> to `targetPort`, connecting from `bindAddress`. */
export const startTlsRelay = (targetPort: number, bindAddress: string): Promise<TlsRelay> =>
  new Promise((resolve, reject) => {
    const connections: Array<RelayedConnection> = []
    const sockets = new Set<Socket>()
    const server = createServer((client) => {
      const seen: RelayedConnection = { resumed: undefined }
      connections.push(seen)
      const upstream = connect({ host: "127.0.0.1", port: targetPort, localAddress: bindAddress })
      for (const socket of [client, upstream]) {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
        socket.on("error", () => {
          client.destroy()
          upstream.destroy()
        })
      }
      let head = Buffer.alloc(0)
      upstream.on("data", (chunk: Buffer) => {
        if (seen.resumed === undefined) {
          head = Buffer.concat([head, chunk])
          const types = serverHelloExtensions(head)
          if (types !== undefined) seen.resumed = types.includes(PRE_SHARED_KEY)
        }
      })
      client.pipe(upstream)
      upstream.pipe(client)
    })
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      if (typeof address !== "object" || address === null) return reject(new Error("no port"))
      resolve({
        port: address.port,
        connections,
        close: () =>
          new Promise((done) => {
            for (const socket of sockets) socket.destroy()
            server.close(() => done())
          })
      })
    })
  })
