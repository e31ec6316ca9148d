import type { ServerOptions } from "node:http"

/*
 * Every limit the HTTP server applies, with its number; docs/security.md says why each one.
 * A request that reaches a limit is refused whole (431, 413, 408), never judged on what was kept.
 */

/**
 * Header lines per request, the request line excluded. Node's parser keeps a fixed number of
 * lines and drops the rest without a word, so it is told to keep one more than this: a request
 * that shows more than this many lines may have been cut, and is refused (431). 100 is Apache's
 * `LimitRequestFields`; a browser sends about 20, and a proxy adds a few.
 */
export const MAX_HEADER_LINES = 100

/** All header lines together (Node's default, stated here so it is a decision): 431 past it. */
export const MAX_HEADER_BYTES = 16 * 1024

/** The largest JSON body any route accepts; `PATCH /api/users/{id}` needs about 40 bytes. */
export const JSON_BODY_MAX = 4 * 1024

/**
 * A route's largest body: none for methods that carry no request content (GET, HEAD, DELETE,
 * OPTIONS), JSON_BODY_MAX for the state-changing ones, which take only JSON.
 */
export const bodyLimitOf = (method: string): number =>
  method === "POST" || method === "PUT" || method === "PATCH" ? JSON_BODY_MAX : 0

/**
 * Time limits: a proxy sends a request's headers in one write and a body of at most a few KiB,
 * so 20 s for the headers and 30 s for the whole request never cut a working proxy off, while a
 * client that stalls (slowloris) holds its socket that long at most. Idle keep-alive connections
 * are kept 125 s, longer than the idle timeouts of the proxies' upstream pools (nginx's
 * `keepalive_timeout` 60 s, Traefik 90 s, Caddy 2 min): the proxy closes an idle connection
 * first and never sends a request (a PATCH it cannot resend) into one Headtower is closing.
 */
export const HEADERS_TIMEOUT_MS = 20_000
export const REQUEST_TIMEOUT_MS = 30_000
export const KEEP_ALIVE_TIMEOUT_MS = 125_000
/** How often Node checks the two timeouts above (its default, 30 s, would double them). */
const TIMEOUT_CHECK_INTERVAL_MS = 2_000

/**
 * Open connections at once (each costs a socket and a few KiB); past it new ones are closed at
 * accept. Strangers — peers in neither allowed_cidrs nor trusted_proxy_cidrs, who can only be
 * refused or read /healthz, /readyz and /metrics — share at most STRANGER_CONNECTIONS of them,
 * at most STRANGER_CONNECTIONS_PER_ADDRESS each, so no stranger can fill the server and keep
 * the proxy out: the rest is the proxies' own.
 */
export const MAX_CONNECTIONS = 1_000
export const STRANGER_CONNECTIONS = 500
export const STRANGER_CONNECTIONS_PER_ADDRESS = 20

export const serverOptions: ServerOptions = {
  maxHeaderSize: MAX_HEADER_BYTES,
  headersTimeout: HEADERS_TIMEOUT_MS,
  requestTimeout: REQUEST_TIMEOUT_MS,
  keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
  connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS
}
