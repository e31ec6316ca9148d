import { execFileSync } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { rawRequest } from "./net.js"
import { startProcess, waitUntilReady } from "./process.js"

const NGINX = process.env["E2E_NGINX"] ?? "/usr/sbin/nginx"

/** An htpasswd line with an Apache MD5 (apr1) hash, which nginx's auth_basic accepts. */
export const htpasswdLine = (user: string, password: string): string =>
  `${user}:${execFileSync("openssl", ["passwd", "-apr1", password], { encoding: "utf8" }).trim()}`

export interface Nginx {
  readonly logFile: string
  readonly stop: () => Promise<void>
}

/**
 * A real nginx from a generated config: foreground (`daemon off`), one worker, every path
 * (pid, logs, temp files) inside `workDir`, stopped by PID. `servers` is the body of the
 * `http {}` block; `readyPort` is one of its loopback listen ports, polled until it answers.
 */
export const startNginx = async (options: {
  readonly workDir: string
  readonly servers: string
  readonly readyPort: number
  readonly name?: string
}): Promise<Nginx> => {
  const dir = join(options.workDir, options.name ?? "nginx")
  mkdirSync(dir, { recursive: true })
  // As root, workers would drop to `nobody` and could not read the 0700 temp dir (htpasswd).
  const user = process.getuid?.() === 0 ? "user root root;" : ""
  const conf = `
${user}
daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 128; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${options.servers}
}
`
  const confFile = join(dir, "nginx.conf")
  writeFileSync(confFile, conf)
  const started = startProcess(NGINX, ["-p", dir, "-c", confFile, "-e", join(dir, "error.log")], {
    logFile: join(dir, "stdout.log")
  })
  try {
    await waitUntilReady("nginx", started, async () => {
      await rawRequest({ port: options.readyPort, path: "/__nginx_ready" })
      return true
    })
  } catch (error) {
    await started.stop()
    throw error
  }
  return { logFile: join(dir, "error.log"), stop: () => started.stop() }
}

/**
 * One `server {}` that does basic auth and forwards the authenticated user to Headtower from
 * `bindAddress`. `proxy_set_header` replaces any same-named header the client sent, which is
 * what makes the identity headers trustworthy; an empty value (a user with no mapped email)
 * sends no header at all. `forwardedFor` picks how X-Forwarded-For is built, if at all.
 */
export const basicAuthServer = (options: {
  readonly listenPort: number
  readonly upstreamPort: number
  readonly htpasswdFile: string
  readonly bindAddress: string
  readonly forwardedFor?: "append" | "overwrite" | undefined
}): string => {
  const xff =
    options.forwardedFor === "append"
      ? "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;"
      : options.forwardedFor === "overwrite"
        ? "proxy_set_header X-Forwarded-For $remote_addr;"
        : ""
  return `
  server {
    listen 127.0.0.1:${options.listenPort};
    location / {
      auth_basic "Headtower";
      auth_basic_user_file ${options.htpasswdFile};
      proxy_pass http://127.0.0.1:${options.upstreamPort};
      proxy_bind ${options.bindAddress};
      proxy_set_header Remote-User $remote_user;
      proxy_set_header Remote-Email $headtower_email;
      proxy_set_header Remote-Name $headtower_name;
      # Set even when empty: an unset header would pass the client's own through.
      proxy_set_header Remote-Picture $headtower_picture;
      ${xff}
    }
  }`
}

/** Profile metadata per basic-auth user, as an SSO proxy would supply it. Goes once per `http {}`. */
export const profileMaps = (
  profiles: Record<string, { readonly email?: string; readonly name?: string; readonly picture?: string }>
): string => {
  // Values go inside nginx double quotes; test data never contains a quote or backslash.
  const entries = (key: "email" | "name" | "picture") =>
    Object.entries(profiles)
      .filter(([, p]) => p[key] !== undefined)
      .map(([user, p]) => `    ${user} "${p[key]}";`)
      .join("\n")
  return `
  map $remote_user $headtower_email {
    default "";
${entries("email")}
  }
  map $remote_user $headtower_name {
    default "";
${entries("name")}
  }
  map $remote_user $headtower_picture {
    default "";
${entries("picture")}
  }`
}
