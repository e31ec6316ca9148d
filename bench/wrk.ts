import { execFile } from "node:child_process"
import { pinned } from "./pinning.js"

/*
 * Load from Debian's wrk (C, one thread): it costs far less CPU per request than a Node load
 * generator, which matters when generator and server share two cores.
 */

export interface WrkResult {
  readonly requests: number
  readonly requestsPerSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
  /** Non-2xx/3xx answers and socket errors: a run with any is not a valid measurement. */
  readonly errors: number
}

const toMs = (value: string, unit: string) => Number(value) * (unit === "us" ? 0.001 : unit === "s" ? 1000 : 1)

export const parseWrk = (output: string): WrkResult => {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(output)
  const total = /(\d+) requests in/.exec(output)
  const p50 = /^\s+50%\s+([\d.]+)(us|ms|s)\s*$/m.exec(output)
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s)\s*$/m.exec(output)
  if (rps === null || total === null || p50 === null || p99 === null) {
    throw new Error(`cannot read wrk output:\n${output}`)
  }
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(output)?.[1] ?? 0)
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output)
  const socketErrors = socket === null ? 0 : socket.slice(1).reduce((sum, n) => sum + Number(n), 0)
  return {
    requests: Number(total[1]),
    requestsPerSecond: Number(rps[1]),
    p50Ms: toMs(p50[1]!, p50[2]!),
    p99Ms: toMs(p99[1]!, p99[2]!),
    errors: non2xx + socketErrors
  }
}

export const wrk = (options: {
  readonly url: string
  readonly seconds: number
  readonly connections: number
  readonly headers?: ReadonlyArray<string>
  readonly script?: string
}) =>
  new Promise<WrkResult>((resolve, reject) => {
    const args = ["-t1", `-c${options.connections}`, `-d${options.seconds}s`, "--latency"]
    for (const header of options.headers ?? []) args.push("-H", header)
    if (options.script !== undefined) args.push("-s", options.script)
    args.push(options.url)
    const [command, pinnedArgs] = pinned("load", "wrk", args)
    execFile(command, pinnedArgs, { timeout: (options.seconds + 30) * 1000 }, (error, stdout) => {
      if (error) reject(error)
      else {
        try {
          resolve(parseWrk(stdout))
        } catch (e) {
          reject(e)
        }
      }
    })
  })
