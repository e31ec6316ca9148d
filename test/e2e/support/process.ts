import { type ChildProcess, spawn } from "node:child_process"
import { closeSync, openSync, readFileSync } from "node:fs"

/*
 * One child process per real component (Headtower, nginx, Caddy), its output captured to a
 * file for debugging a failed run, stopped by its own PID — never by name, since other
 * suites on this machine run their own instances.
 */

export interface Started {
  readonly pid: number
  readonly logFile: string
  /** Resolves when the process has exited (whether stopped or crashed). */
  readonly exited: Promise<number | null>
  readonly hasExited: () => boolean
  /** The captured stdout and stderr so far. */
  readonly log: () => string
  /** SIGTERM, then SIGKILL if it is still running after `graceMs`. Safe to call twice. */
  readonly stop: (graceMs?: number) => Promise<void>
}

export const startProcess = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly logFile: string; readonly cwd?: string; readonly env?: NodeJS.ProcessEnv }
): Started => {
  const fd = openSync(options.logFile, "a")
  const child: ChildProcess = spawn(command, [...args], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", fd, fd]
  })
  // The child holds its own copy of the descriptor.
  closeSync(fd)
  let done = false
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => {
      done = true
      resolve(code)
    })
    child.once("error", () => {
      done = true
      resolve(null)
    })
  })
  if (child.pid === undefined) throw new Error(`could not start ${command}`)
  const pid = child.pid
  const log = () => {
    try {
      return readFileSync(options.logFile, "utf8")
    } catch {
      return ""
    }
  }
  const stop = async (graceMs = 5_000) => {
    if (done) return
    process.kill(pid, "SIGTERM")
    const timer = setTimeout(() => {
      if (!done) process.kill(pid, "SIGKILL")
    }, graceMs)
    await exited
    clearTimeout(timer)
  }
  return { pid, logFile: options.logFile, exited, hasExited: () => done, log, stop }
}

/**
 * Polls `probe` until it returns true; fails with the process log if the process dies first
 * or the deadline passes. Readiness is observed, never assumed after a fixed sleep.
 */
export const waitUntilReady = async (
  name: string,
  started: Started,
  probe: () => Promise<boolean>,
  timeoutMs = 30_000
): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (started.hasExited()) {
      throw new Error(`${name} exited during start-up; log ${started.logFile}:\n${started.log()}`)
    }
    if (await probe().catch(() => false)) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`${name} not ready after ${timeoutMs} ms; log ${started.logFile}:\n${started.log()}`)
}
