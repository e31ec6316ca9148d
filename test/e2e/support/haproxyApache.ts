import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { rawRequest } from "./net.js"
import { startProcess, waitUntilReady } from "./process.js"

/*
 * A real HAProxy or Apache httpd (Debian's) from a generated config: in the foreground, every
 * path inside `workDir`, stopped by PID, polled on `readyPort` until it answers.
 */

const HAPROXY = process.env["E2E_HAPROXY"] ?? "/usr/sbin/haproxy"
const APACHE = process.env["E2E_APACHE"] ?? "/usr/sbin/apache2"
const APACHE_MODULES = "/usr/lib/apache2/modules"

const startServer = async (name: string, command: string, args: Array<string>, dir: string, readyPort: number) => {
  const started = startProcess(command, args, { logFile: join(dir, `${name}.log`) })
  try {
    await waitUntilReady(name, started, async () => {
      await rawRequest({ port: readyPort, path: `/__${name}_ready` })
      return true
    })
  } catch (error) {
    await started.stop()
    throw error
  }
  return { logFile: started.logFile, stop: () => started.stop() }
}

export const startHaproxy = async (options: { workDir: string; config: string; readyPort: number }) => {
  const dir = join(options.workDir, "haproxy")
  mkdirSync(dir, { recursive: true })
  const file = join(dir, "haproxy.cfg")
  writeFileSync(file, options.config)
  // -db: foreground, no daemon; -W not needed for one process.
  return startServer("haproxy", HAPROXY, ["-db", "-f", file], dir, options.readyPort)
}

/** `site` is a VirtualHost as an operator writes it; the server-wide part (modules, paths) is added. */
export const startApache = async (options: { workDir: string; site: string; readyPort: number }) => {
  const dir = join(options.workDir, "apache")
  mkdirSync(dir, { recursive: true })
  const modules = [
    "mpm_event",
    "authn_core",
    "authn_file",
    "authz_core",
    "authz_user",
    "auth_basic",
    "headers",
    "proxy",
    "proxy_http"
  ]
  // As root, Apache's children must switch to a user (root is refused): the caller makes
  // the files they read (htpasswd) readable to it.
  const user = process.getuid?.() === 0 ? "User daemon\nGroup daemon" : ""
  const conf = `
ServerRoot "${dir}"
ServerName localhost
PidFile "${dir}/httpd.pid"
ErrorLog "${dir}/error.log"
LogLevel warn
${user}
${modules.map((m) => `LoadModule ${m}_module ${APACHE_MODULES}/mod_${m}.so`).join("\n")}
DefaultRuntimeDir "${dir}"
Mutex file:${dir}
${options.site}
`
  const file = join(dir, "httpd.conf")
  writeFileSync(file, conf)
  return startServer("apache", APACHE, ["-f", file, "-DFOREGROUND"], dir, options.readyPort)
}
