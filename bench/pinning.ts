import { execFileSync } from "node:child_process"
import { cpus } from "node:os"

/*
 * Load generator and servers on separate cores (taskset, util-linux). Unpinned on two cores,
 * wrk and the server it measures take turns on the same core and migrate between them: every
 * server's CPU per request rose by 30–60% in interleaved runs (Headtower /healthz 146 → 230 µs,
 * Express 5 → 227 µs), by different amounts for different servers. Pinned, the figures are
 * steady from round to round. With one core, or without taskset, nothing is pinned.
 */

const available = (() => {
  if (cpus().length < 2) return false
  try {
    execFileSync("taskset", ["-c", "0", "true"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
})()

/** `[command, args]` running `command args` on `cpu` when pinning is available. */
export const pinned = (
  cpu: "server" | "load",
  command: string,
  args: ReadonlyArray<string>
): [string, Array<string>] =>
  available ? ["taskset", ["-c", cpu === "server" ? "1" : "0", command, ...args]] : [command, [...args]]

/**
 * Moves this process (every thread) to the load generator's core: the bench's own process,
 * idle or collecting garbage after the in-process figures, must not share the servers' core.
 */
export const pinSelfWithLoad = () => {
  if (available) execFileSync("taskset", ["-a", "-p", "-c", "0", String(process.pid)], { stdio: "ignore" })
}

export const pinning = available ? "servers on CPU 1, wrk on CPU 0 (taskset)" : "not pinned"
