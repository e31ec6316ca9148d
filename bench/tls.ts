import { execFileSync } from "node:child_process"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { ALLOWED_CLIENT, makePki } from "../test/e2e/support/certificates.js"
import { startNginx } from "../test/e2e/support/nginx.js"
import { compiled, freePort, type Server, startFlags, startServer } from "./processes.js"
import { median } from "./stats.js"
import { configYaml } from "./store.js"
import { wrk } from "./wrk.js"

/*
 * What the proxy's client certificate costs: GET /api/me over TLS through kept-alive upstream
 * connections, to a Headtower that requires client certificates (server.tls.client_ca_file)
 * and to the same server without that key. wrk cannot present a client certificate, so a real
 * nginx does, as in a deployment: wrk → nginx (HTTP keep-alive) → Headtower (TLS, every
 * upstream connection kept alive, so handshakes are not what is measured). 32 connections:
 * the test nginx allows 128 in all, and each request holds one each side. wrk and nginx
 * share the load generator's core; the figure that matters is Headtower's CPU per request.
 */

const CONNECTIONS = 32

const headtowerTls = (name: string, dir: string, tls: ReadonlyArray<string>) => {
  const configFile = join(dir, `${name}.yaml`)
  return startServer(
    name,
    (port) => {
      const yaml = configYaml({ dbPath: join(dir, `${name}.db`), syncTtl: 10, listen: `127.0.0.1:${port}` })
      writeFileSync(configFile, yaml.replace("server:\n", `server:\n  tls:\n${tls.map((l) => `    ${l}\n`).join("")}`))
      return [...startFlags(), compiled.main, "serve", "--config", configFile]
    },
    "/healthz",
    "https"
  )
}

/** nginx's master and worker on the load generator's core (taskset), beside wrk. */
const pinNginx = (pidFile: string) => {
  try {
    const master = readFileSync(pidFile, "utf8").trim()
    const children = readFileSync(`/proc/${master}/task/${master}/children`, "utf8").trim().split(/\s+/)
    for (const pid of [master, ...children].filter((p) => p !== "")) {
      execFileSync("taskset", ["-a", "-p", "-c", "0", pid], { stdio: "ignore" })
    }
  } catch {
    // Without taskset (or one core) nothing is pinned, as elsewhere in the bench.
  }
}

export interface TlsTargetResult {
  readonly name: string
  readonly requestsPerSecond: number
  readonly serverCpuUsPerRequest: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly errors: number
}

export const benchClientCertificates = async (options: {
  dir: string
  rounds: number
  seconds: number
  warmupSeconds: number
}) => {
  const pki = await makePki(options.dir)
  const servers: Array<Server> = []
  const stops: Array<() => Promise<void>> = []
  try {
    const serverFiles = [`cert_file: "${pki.server.cert}"`, `key_file: "${pki.server.key}"`]
    const plain = await headtowerTls("headtower-tls", options.dir, serverFiles)
    servers.push(plain)
    const mutual = await headtowerTls("headtower-mtls", options.dir, [
      ...serverFiles,
      `client_ca_file: "${pki.proxyCa}"`,
      `allowed_client_names: ["${ALLOWED_CLIENT}"]`
    ])
    servers.push(mutual)

    const site = (listen: number, upstream: Server, name: string, clientCertificate: boolean) => `
  upstream ${name} {
    server 127.0.0.1:${upstream.port};
    keepalive ${CONNECTIONS};
  }
  server {
    listen 127.0.0.1:${listen};
    location / {
      proxy_pass https://${name};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_ssl_protocols TLSv1.2 TLSv1.3;
      proxy_ssl_trusted_certificate ${pki.serverCa};
      proxy_ssl_verify on;
      proxy_ssl_name localhost;
      ${clientCertificate ? `proxy_ssl_certificate ${pki.proxy.cert};\n      proxy_ssl_certificate_key ${pki.proxy.key};` : ""}
    }
  }`
    const [plainPort, mutualPort] = [await freePort(), await freePort()]
    const nginx = await startNginx({
      workDir: options.dir,
      name: "bench-nginx",
      readyPort: plainPort,
      servers: [site(plainPort, plain, "headtower_tls", false), site(mutualPort, mutual, "headtower_mtls", true)].join(
        "\n"
      )
    })
    stops.push(nginx.stop)
    const pidFile = join(options.dir, "bench-nginx", "nginx.pid")
    if (existsSync(pidFile)) pinNginx(pidFile)

    const targets = [
      { name: "Headtower GET /api/me over TLS, no client certificate", server: plain, port: plainPort },
      { name: "Headtower GET /api/me over TLS, client certificate required", server: mutual, port: mutualPort }
    ] as const
    const run = async (target: (typeof targets)[number], seconds: number) => {
      const cpuBefore = target.server.cpuMs()
      const result = await wrk({
        url: `http://127.0.0.1:${target.port}/api/me`,
        seconds,
        connections: CONNECTIONS,
        headers: ["Remote-User: bench-user-0", "Remote-Email: bench-user-0@example.com"]
      })
      return { ...result, serverCpuUsPerRequest: ((target.server.cpuMs() - cpuBefore) * 1000) / result.requests }
    }
    for (const target of targets) await run(target, options.warmupSeconds)
    const samples = new Map<string, Array<Awaited<ReturnType<typeof run>>>>(targets.map((t) => [t.name, []]))
    for (let round = 0; round < options.rounds; round++) {
      for (const target of targets) samples.get(target.name)!.push(await run(target, options.seconds))
    }
    const results = targets.map((t): TlsTargetResult => {
      const runs = samples.get(t.name)!
      return {
        name: t.name,
        requestsPerSecond: median(runs.map((r) => r.requestsPerSecond)),
        serverCpuUsPerRequest: median(runs.map((r) => r.serverCpuUsPerRequest)),
        p50Ms: median(runs.map((r) => r.p50Ms)),
        p99Ms: median(runs.map((r) => r.p99Ms)),
        errors: runs.reduce((sum, r) => sum + r.errors, 0)
      }
    })
    const [without, withCertificates] = results as [TlsTargetResult, TlsTargetResult]
    return {
      targets: results,
      /** Throughput with client certificates as a share of the same server's without them. */
      ratio: withCertificates.requestsPerSecond / without.requestsPerSecond,
      /** The same from server CPU per request: what each would do with a core to itself. */
      cpuRatio: without.serverCpuUsPerRequest / withCertificates.serverCpuUsPerRequest
    }
  } finally {
    for (const stop of stops) await stop()
    for (const server of servers) await server.stop()
  }
}
