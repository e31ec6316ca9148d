import { connect } from "node:net"
import { connect as connectTls, type ConnectionOptions } from "node:tls"

/*
 * HTTP/1.1 as bytes on a bare `net.Socket`. Node's http client validates and tidies headers
 * (no control characters, no obs-fold, no bare CR); hostile tests need to send exactly those,
 * so the request is written as given and the response parsed by hand.
 */

export interface SocketResponse {
  /** 0 when the server closed the connection without answering. */
  readonly status: number
  readonly headers: ReadonlyMap<string, string>
  readonly body: string
  /** The body parsed as JSON, or undefined when it is not JSON. */
  readonly json: any
}

/** A header line: text is sent as UTF-8 (what proxies send), a Buffer byte for byte. */
export type HeaderLine = string | Buffer

/** `METHOD path HTTP/1.1`, Host, `Connection: close` (unless a line is a Connection header), the lines, blank line. */
export const requestBytes = (options: {
  readonly port: number
  readonly path?: string
  readonly method?: string
  readonly lines: ReadonlyArray<HeaderLine>
}): Buffer => {
  // The caller's own Connection header (hop-by-hop tests) replaces ours; it should say close.
  const own = options.lines.some((line) => /^connection:/i.test(line.toString("latin1")))
  const head = `${options.method ?? "GET"} ${
    options.path ?? "/api/me"
  } HTTP/1.1\r\nHost: 127.0.0.1:${options.port}\r\n${own ? "" : "Connection: close\r\n"}`
  const parts: Array<Buffer> = [Buffer.from(head, "latin1")]
  for (const line of options.lines) {
    parts.push(typeof line === "string" ? Buffer.from(line, "utf8") : line, Buffer.from("\r\n"))
  }
  parts.push(Buffer.from("\r\n"))
  return Buffer.concat(parts)
}

const dechunk = (body: Buffer): Buffer => {
  const out: Array<Buffer> = []
  let i = 0
  for (;;) {
    const eol = body.indexOf("\r\n", i)
    if (eol === -1) break
    const size = parseInt(body.subarray(i, eol).toString("latin1"), 16)
    if (!(size > 0)) break
    out.push(body.subarray(eol + 2, eol + 2 + size))
    i = eol + 2 + size + 2
  }
  return Buffer.concat(out)
}

const parse = (raw: Buffer): SocketResponse => {
  const end = raw.indexOf("\r\n\r\n")
  if (end === -1) return { status: 0, headers: new Map(), body: raw.toString("latin1"), json: undefined }
  const [statusLine = "", ...lines] = raw.subarray(0, end).toString("latin1").split("\r\n")
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0)
  const headers = new Map<string, string>()
  for (const line of lines) {
    const colon = line.indexOf(":")
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim())
  }
  let bodyBytes = raw.subarray(end + 4)
  if (headers.get("transfer-encoding")?.toLowerCase() === "chunked") bodyBytes = dechunk(bodyBytes)
  const body = bodyBytes.toString("utf8")
  let json: unknown = undefined
  try {
    json = JSON.parse(body)
  } catch {
    json = undefined
  }
  return { status, headers, body, json }
}

/** True once `raw` holds a whole response (by Content-Length or the last chunk). */
const complete = (raw: Buffer): boolean => {
  const end = raw.indexOf("\r\n\r\n")
  if (end === -1) return false
  const head = raw.subarray(0, end).toString("latin1")
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head)
  if (length !== null) return raw.length - (end + 4) >= Number(length[1])
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    return raw.subarray(raw.length - 5).toString("latin1") === "0\r\n\r\n"
  }
  return false
}

/**
 * Writes `bytes` from `localAddress` (any 127.0.0.0/8 address) and reads one response: until
 * it is complete or the server closes. The write side stays open, since nginx takes a
 * half-close for a client that gave up and answers nothing.
 */
export const sendRaw = (options: {
  readonly port: number
  readonly bytes: Buffer
  readonly localAddress?: string
  /** The server's address; 127.0.0.1 unless said (`::1` for IPv6 tests). */
  readonly host?: string
  readonly timeoutMs?: number
  /** Over TLS, with these options (a client certificate, the CA to verify the server with). */
  readonly tls?: ConnectionOptions
}): Promise<SocketResponse> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    const target = {
      host: options.host ?? "127.0.0.1",
      port: options.port,
      ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress })
    }
    const socket = options.tls === undefined ? connect(target) : connectTls({ ...options.tls, ...target })
    socket.setTimeout(options.timeoutMs ?? 10_000, () => socket.destroy(new Error("raw request timed out")))
    socket.on(options.tls === undefined ? "connect" : "secureConnect", () => socket.write(options.bytes))
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk)
      if (complete(Buffer.concat(chunks))) socket.destroy()
    })
    // A server may reset after answering a request it refused to read in full.
    socket.on("error", (error: NodeJS.ErrnoException) =>
      error.code === "ECONNRESET" && chunks.length > 0 ? resolve(parse(Buffer.concat(chunks))) : reject(error)
    )
    socket.on("close", () => resolve(parse(Buffer.concat(chunks))))
  })

/**
 * A request whose body is `bodyBytes` bytes of `fill`, written 64 KiB at a time as the socket
 * drains and never built whole (so a test can send hundreds of MiB), as declared by
 * Content-Length or chunked. Writing stops as soon as an answer arrives, as a real client's
 * would; `sent` is how many body bytes were written by then.
 */
export const sendStreamed = (options: {
  readonly port: number
  readonly method?: string
  readonly path: string
  readonly lines: ReadonlyArray<string>
  readonly bodyBytes: number
  readonly chunked?: boolean
  readonly fill?: string
  readonly localAddress?: string
  readonly timeoutMs?: number
}): Promise<SocketResponse & { readonly sent: number }> =>
  new Promise((resolve, reject) => {
    const CHUNK = 64 * 1024
    const piece = Buffer.alloc(CHUNK, options.fill ?? " ")
    // One chunk's framing built once: a fresh 64 KiB buffer per write made enough garbage to
    // hold this client's event loop from reading the server's early answer for 100 ms and more.
    const frame = (data: Buffer) =>
      Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from("\r\n")])
    const framedPiece = frame(piece)
    const framing = options.chunked === true ? "Transfer-Encoding: chunked" : `Content-Length: ${options.bodyBytes}`
    const head = requestBytes({
      port: options.port,
      method: options.method ?? "PATCH",
      path: options.path,
      lines: [...options.lines, framing]
    })
    const chunks: Array<Buffer> = []
    let sent = 0
    let answered = false
    const socket = connect({
      host: "127.0.0.1",
      port: options.port,
      ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress })
    })
    socket.setTimeout(options.timeoutMs ?? 60_000, () => socket.destroy(new Error("streamed request timed out")))
    const pump = () => {
      while (!answered && sent < options.bodyBytes) {
        const size = Math.min(CHUNK, options.bodyBytes - sent)
        const data = size === CHUNK ? piece : piece.subarray(0, size)
        sent += size
        const more = socket.write(options.chunked !== true ? data : size === CHUNK ? framedPiece : frame(data))
        // On to the event loop before the next chunk, as a client that polls reads an answer
        // while it writes (`drain` comes in the same tick when the kernel took a write at once).
        if (!more) return void socket.once("drain", () => setImmediate(pump))
      }
      if (!answered && options.chunked === true) socket.write("0\r\n\r\n")
    }
    const done = () => resolve({ ...parse(Buffer.concat(chunks)), sent })
    socket.on("connect", () => socket.write(head, pump))
    socket.on("data", (chunk: Buffer) => {
      answered = true
      chunks.push(chunk)
      if (complete(Buffer.concat(chunks))) {
        socket.destroy()
        done()
      }
    })
    // The server (or proxy) may close while the body is still being written: what it answered counts.
    socket.on("error", (error: NodeJS.ErrnoException) =>
      error.code === "EPIPE" || error.code === "ECONNRESET" ? done() : reject(error)
    )
    socket.on("close", done)
  })
