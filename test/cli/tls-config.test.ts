import { Either } from "effect"
import { execFile, execFileSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { FileReader } from "../../src/domain/config/fields.js"
import { parseConfig } from "../../src/domain/config/parse.js"
import { shownConfig } from "../../src/domain/config/shown.js"
import { ALLOWED_CLIENT, makePki, type Pki } from "../e2e/support/certificates.js"
import { makeWorkDir } from "../e2e/support/workdir.js"

/*
 * `server.tls` as an operator meets it: start-up errors that name the key (a file that cannot
 * be read, a CA file with no certificate, a key that is not the certificate's, keys that only
 * mean something together), `check-config`, and `explain --client-cert` saying whether a
 * certificate would be trusted. Certificates are made with openssl.
 */

const ROOT = join(import.meta.dirname, "..", "..")
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("HEADTOWER_")))
const work = makeWorkDir("tls-config")
let pki: Pki

beforeAll(async () => {
  pki = await makePki(work.dir)
})
afterAll(() => work.remove())

const files: FileReader = {
  readText: (path) => {
    try {
      return Either.right(readFileSync(path, "utf8"))
    } catch (error) {
      return Either.left((error as Error).message)
    }
  }
}

const parse = (tls: Record<string, unknown>) =>
  parseConfig({
    yaml: JSON.stringify({ headscale: { api_key: "hskey-api-tls-test" }, server: { tls } }),
    env: {},
    files
  })

const errorsOf = (tls: Record<string, unknown>) => parse(tls).errors.map((e) => `${e.path}: ${e.message}`)

describe("server.tls in the configuration", () => {
  it("accepts a certificate, its key, a client CA and names; no tls section is plain HTTP", () => {
    const { config, errors } = parse({
      cert_file: pki.server.cert,
      key_file: pki.server.key,
      client_ca_file: pki.proxyCa,
      allowed_client_names: [ALLOWED_CLIENT]
    })
    expect(errors).toEqual([])
    expect(config?.server.tls.certFile?.path).toBe(pki.server.cert)
    expect(String(config?.server.tls.keyFile?.pem)).not.toContain("PRIVATE KEY")
    // check-config prints the paths, never a file's content.
    expect((shownConfig(config!) as { server: { tls: unknown } }).server.tls).toEqual({
      cert_file: pki.server.cert,
      key_file: pki.server.key,
      client_ca_file: pki.proxyCa,
      allowed_client_names: [ALLOWED_CLIENT]
    })
    expect(parse({}).config?.server.tls.certFile).toBeUndefined()
  })

  it("names the key of a file that cannot be read, holds no certificate, or no usable key", () => {
    const notPem = work.path("not-pem.txt")
    writeFileSync(notPem, "hello\n")
    expect(errorsOf({ cert_file: work.path("missing.crt"), key_file: pki.server.key })).toEqual([
      expect.stringMatching(/^server\.tls\.cert_file: cannot read ".*missing\.crt": ENOENT/)
    ])
    expect(errorsOf({ cert_file: pki.server.cert, key_file: pki.server.key, client_ca_file: notPem })).toEqual([
      expect.stringMatching(/^server\.tls\.client_ca_file: ".*not-pem\.txt" holds no PEM certificate/)
    ])
    expect(errorsOf({ cert_file: pki.server.cert, key_file: pki.server.cert })).toEqual([
      expect.stringMatching(/^server\.tls\.key_file: ".*server\.crt" holds no usable PEM private key/)
    ])
  })

  it("refuses an encrypted key and a key that is not the certificate's", () => {
    const encrypted = work.path("encrypted.key")
    execFileSync("openssl", ["pkey", "-in", pki.server.key, "-aes256", "-passout", "pass:x", "-out", encrypted])
    expect(errorsOf({ cert_file: pki.server.cert, key_file: encrypted })).toEqual([
      expect.stringMatching(/^server\.tls\.key_file: .* is an encrypted private key/)
    ])
    expect(errorsOf({ cert_file: pki.server.cert, key_file: pki.proxy.key })).toEqual([
      "server.tls.key_file: the key does not belong to the first certificate of server.tls.cert_file"
    ])
  })

  it("refuses keys that mean something only together, naming the missing one", () => {
    expect(errorsOf({ cert_file: pki.server.cert })).toEqual([
      "server.tls.key_file: server.tls.cert_file is set without server.tls.key_file; set both"
    ])
    expect(errorsOf({ client_ca_file: pki.proxyCa })).toEqual([
      "server.tls.client_ca_file: client certificates need HTTPS: set server.tls.cert_file and server.tls.key_file too"
    ])
    expect(errorsOf({ cert_file: pki.server.cert, key_file: pki.server.key, allowed_client_names: ["a"] })).toEqual([
      "server.tls.allowed_client_names: names are checked only on certificates of server.tls.client_ca_file; set it, or remove this key"
    ])
    expect(
      errorsOf({
        cert_file: pki.server.cert,
        key_file: pki.server.key,
        client_ca_file: pki.proxyCa,
        allowed_client_names: ["*.internal", ""]
      })
    ).toEqual([
      expect.stringMatching(/^server\.tls\.allowed_client_names\[0\]: "\*\.internal": wildcards are not matched/),
      "server.tls.allowed_client_names[1]: an allowed client name is empty"
    ])
  })

  it("warns when any certificate of the CA is trusted", () => {
    const { warnings } = parse({ cert_file: pki.server.cert, key_file: pki.server.key, client_ca_file: pki.proxyCa })
    expect(warnings.map((w) => w.path)).toContain("server.tls.allowed_client_names")
  })
})

const headtower = (args: ReadonlyArray<string>) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "src/main.ts", ...args],
      { cwd: ROOT, env },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr })
    )
  })

const SLOW = { timeout: 180_000 }

describe("the headtower command with server.tls", SLOW, () => {
  const configFile = (tls: Record<string, unknown>) => {
    const path = work.path(`config-${Math.random().toString(36).slice(2)}.yaml`)
    writeFileSync(
      path,
      JSON.stringify({
        headscale: { api_key: "hskey-api-tls-test" },
        server: { listen: "127.0.0.1:1", proxy_auth: { enabled: true }, tls },
        database: { url: `sqlite:${work.path("explain.db")}` }
      })
    )
    return path
  }

  it("serve refuses to start with a CA file holding no certificate, naming the key; no stack trace", async () => {
    const empty = work.path("empty-ca.crt")
    writeFileSync(empty, "")
    const r = await headtower([
      "serve",
      "--config",
      configFile({ cert_file: pki.server.cert, key_file: pki.server.key, client_ca_file: empty })
    ])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/server\.tls\.client_ca_file: ".*empty-ca\.crt" holds no PEM certificate/)
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })

  it("explain --client-cert says whether a certificate would be trusted, step by step", async () => {
    const config = configFile({
      cert_file: pki.server.cert,
      key_file: pki.server.key,
      client_ca_file: pki.proxyCa,
      allowed_client_names: [ALLOWED_CLIENT]
    })
    const explain = (extra: ReadonlyArray<string>) =>
      headtower(["explain", "--config", config, "--peer", "127.0.0.1", "-H", "Remote-User: alice", ...extra])
    const [trusted, none, foreign, wrongName, expired] = await Promise.all([
      explain(["--client-cert", pki.proxy.cert]),
      explain([]),
      explain(["--client-cert", pki.foreign.cert]),
      explain(["--client-cert", pki.wrongName.cert]),
      explain(["--client-cert", pki.expired.cert])
    ])
    expect(trusted.stdout).toContain(`client certificate: trusted, it names the allowed client "${ALLOWED_CLIENT}"`)
    expect(trusted.stdout).toContain("=> 200 Authenticated")
    expect(none.stdout).toContain("client certificate: none")
    expect(foreign.stdout).toContain("(UNABLE_TO_VERIFY_LEAF_SIGNATURE)")
    expect(wrongName.stdout).toContain("names no client of server.tls.allowed_client_names")
    expect(expired.stdout).toContain("(CERT_HAS_EXPIRED)")
    for (const refused of [none, foreign, wrongName, expired]) {
      expect(refused.stdout).toContain("=> 403 UntrustedClientCertificate")
    }
  })
})
