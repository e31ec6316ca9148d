import { type IncomingMessage, request } from "node:http"
import { createServer } from "node:net"

/** A port nobody listens on right now: bind port 0 and release it. */
export const freePort = (host = "127.0.0.1") =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, host, () => {
      const address = server.address()
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))
      )
    })
  })

export interface RawResponse {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: string
  /** The body parsed as JSON, or undefined when it is not JSON. */
  readonly json: any
}

export interface RawRequest {
  readonly port: number
  readonly path: string
  readonly method?: string
  readonly host?: string
  /**
   * The source address to connect from: any 127.0.0.0/8 address works on Linux, which is how
   * a test plays the proxy (allowed) and a stranger (not allowed) on one machine.
   */
  readonly localAddress?: string
  /** Sent as given, in order; a name may repeat. */
  readonly headers?: ReadonlyArray<readonly [string, string]>
  readonly body?: string
  /** Basic credentials for the proxy in front: `user:password`. */
  readonly basicAuth?: string
}

/** The whole response: status, headers, the body as text and, when it is JSON, parsed. */
export const readResponse = (res: IncomingMessage): Promise<RawResponse> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    res.on("data", (chunk: Buffer) => chunks.push(chunk))
    res.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8")
      let json: unknown = undefined
      try {
        json = JSON.parse(body)
      } catch {
        json = undefined
      }
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json })
    })
    res.on("error", reject)
  })

/**
 * A plain HTTP/1.1 request with a fresh connection and no agent, so `localAddress` really is
 * the peer address the server sees and no header is added or merged behind the test's back.
 */
export const rawRequest = (options: RawRequest): Promise<RawResponse> =>
  new Promise((resolve, reject) => {
    // Raw header arrays get no default Host, and Node's server answers 400 without one.
    const host = options.host ?? "127.0.0.1"
    const headers: Array<string> = ["Host", `${host}:${options.port}`]
    for (const [name, value] of options.headers ?? []) headers.push(name, value)
    if (options.basicAuth !== undefined) {
      headers.push("Authorization", `Basic ${Buffer.from(options.basicAuth).toString("base64")}`)
    }
    if (options.body !== undefined) {
      headers.push("Content-Type", "application/json", "Content-Length", String(Buffer.byteLength(options.body)))
    }
    const req = request(
      {
        host,
        port: options.port,
        path: options.path,
        method: options.method ?? "GET",
        localAddress: options.localAddress,
        agent: false,
        headers,
        timeout: 10_000
      },
      (res) => readResponse(res).then(resolve, reject)
    )
    req.on("timeout", () => req.destroy(new Error(`request to ${options.path} timed out`)))
    req.on("error", reject)
    req.end(options.body)
  })
