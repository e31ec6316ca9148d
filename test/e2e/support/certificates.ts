import { execFile } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { promisify } from "node:util"

/*
 * Certificates made with `openssl`, as an operator makes them: a CA for Headtower's own
 * certificate, a CA that signs the proxy's client certificate and nothing else, and the
 * certificates every refusal needs (another CA's, a name not allowed, an expired one).
 */

export interface KeyPair {
  readonly cert: string
  readonly key: string
}

export interface Pki {
  /** The CA that signed Headtower's certificate (what a proxy verifies Headtower with). */
  readonly serverCa: string
  /** Headtower's certificate, for 127.0.0.1 and localhost. */
  readonly server: KeyPair
  /** server.tls.client_ca_file. */
  readonly proxyCa: string
  readonly proxyCaKey: string
  /** The proxy's client certificate: CN and DNS SAN `proxy.internal`. */
  readonly proxy: KeyPair
  /** Same CA, a name not allowed (`stranger.internal`). */
  readonly wrongName: KeyPair
  /** A CA Headtower does not trust (until a test makes it the client CA). */
  readonly otherCa: string
  /** `proxy.internal`, from a CA Headtower does not trust. */
  readonly foreign: KeyPair
  /** `proxy.internal`, from the proxy CA, expired in 2020. */
  readonly expired: KeyPair
  /** Only a DNS SAN names the proxy (the CN is something else). */
  readonly sanOnly: KeyPair
  /** Makes another certificate of the proxy CA (for renewals in a test). */
  readonly issue: (name: string, options?: { readonly cn?: string }) => Promise<KeyPair>
}

export const ALLOWED_CLIENT = "proxy.internal"

const run = promisify(execFile)

/**
 * Runs `openssl` with `command`'s words (the paths and subjects here hold no spaces);
 * asynchronously, so a test worker's event loop is never held while it runs.
 */
const openssl = (cwd: string, command: string) => run("openssl", command.trim().split(/\s+/), { cwd })

const newKey = (cwd: string, file: string) =>
  openssl(cwd, `genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out ${file}`)

const makeCa = async (cwd: string, name: string) => {
  await newKey(cwd, `${name}.key`)
  await openssl(
    cwd,
    `req -x509 -new -key ${name}.key -subj /CN=${name} -days 3650
     -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -out ${name}.crt`
  )
  return { cert: join(cwd, `${name}.crt`), key: join(cwd, `${name}.key`) }
}

const CLIENT_EXT = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n"

/** A leaf signed by `ca` with `extensions` (an openssl extension section's lines). */
const makeLeaf = async (
  cwd: string,
  name: string,
  ca: KeyPair,
  cn: string,
  extensions: string,
  validity?: { readonly start: string; readonly end: string }
): Promise<KeyPair> => {
  await newKey(cwd, `${name}.key`)
  await openssl(cwd, `req -new -key ${name}.key -subj /CN=${cn} -out ${name}.csr`)
  writeFileSync(join(cwd, `${name}.ext`), `[ext]\n${extensions}`)
  const output = `-in ${name}.csr -extfile ${name}.ext -extensions ext -out ${name}.crt`
  if (validity === undefined) {
    await openssl(cwd, `x509 -req -CA ${ca.cert} -CAkey ${ca.key} -CAcreateserial -days 825 ${output}`)
  } else {
    // `openssl x509` cannot back-date; `openssl ca` takes explicit start and end dates.
    const db = join(cwd, `${name}-ca`)
    mkdirSync(db, { recursive: true })
    writeFileSync(join(db, "index.txt"), "")
    writeFileSync(join(db, "serial"), "1000\n")
    writeFileSync(
      join(db, "ca.cnf"),
      `[ca]\ndefault_ca=d\n[d]\ndatabase=${db}/index.txt\nnew_certs_dir=${db}\nserial=${db}/serial\ndefault_md=sha256\npolicy=p\nunique_subject=no\n[p]\ncommonName=supplied\n`
    )
    await openssl(
      cwd,
      `ca -batch -notext -config ${db}/ca.cnf -cert ${ca.cert} -keyfile ${ca.key}
       -startdate ${validity.start} -enddate ${validity.end} ${output}`
    )
  }
  return { cert: join(cwd, `${name}.crt`), key: join(cwd, `${name}.key`) }
}

/** A fresh PKI under `dir` (a second or two of openssl). */
export const makePki = async (dir: string): Promise<Pki> => {
  const cwd = join(dir, "pki")
  mkdirSync(cwd, { recursive: true })
  const serverCa = await makeCa(cwd, "server-ca")
  const proxyCa = await makeCa(cwd, "proxy-ca")
  const otherCa = await makeCa(cwd, "other-ca")
  const client = (name: string, ca: KeyPair, cn: string, san: string, validity?: { start: string; end: string }) =>
    makeLeaf(cwd, name, ca, cn, `${CLIENT_EXT}subjectAltName=${san}\n`, validity)
  let issued = 0
  return {
    serverCa: serverCa.cert,
    server: await makeLeaf(
      cwd,
      "server",
      serverCa,
      "localhost",
      "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
    ),
    proxyCa: proxyCa.cert,
    proxyCaKey: proxyCa.key,
    otherCa: otherCa.cert,
    proxy: await client("proxy", proxyCa, ALLOWED_CLIENT, `DNS:${ALLOWED_CLIENT}`),
    wrongName: await client("wrong-name", proxyCa, "stranger.internal", "DNS:stranger.internal"),
    foreign: await client("foreign", otherCa, ALLOWED_CLIENT, `DNS:${ALLOWED_CLIENT}`),
    expired: await client("expired", proxyCa, ALLOWED_CLIENT, `DNS:${ALLOWED_CLIENT}`, {
      start: "20200101000000Z",
      end: "20200102000000Z"
    }),
    sanOnly: await client("san-only", proxyCa, "some-host", `DNS:${ALLOWED_CLIENT}`),
    issue: (name, options = {}) => client(`issued-${++issued}`, proxyCa, options.cn ?? name, `DNS:${name}`)
  }
}
