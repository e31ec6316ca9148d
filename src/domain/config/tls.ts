import { Effect, Either, ParseResult, Redacted, Schema } from "effect"
import type { ConfigIssue, ConfigWarning } from "../AppConfig.js"
import { certificatesIn, MAX_PEM_BYTES, privateKeyIn } from "../pem.js"
import { ConfigFiles, key, optionalKey, Shown, Text } from "./fields.js"
import type { RawTree } from "./raw.js"

/*
 * `server.tls`: HTTPS, and with `client_ca_file` the proxy's client certificate (mutual TLS).
 * Each file is read and checked when the configuration is (start-up, check-config, and a
 * SIGHUP reload, which decodes this section again), so a file the server could not load is an
 * error naming its key, never a server that starts and then fails its handshakes.
 */

const BASE = "server.tls"

/** A PEM file's text, or the problem with it (what the key's message says). */
const readPem = (path: string, check: (text: string) => Either.Either<unknown, string>) =>
  Effect.map(ConfigFiles, (files) =>
    Either.flatMap(
      Either.mapLeft(files.readText(path, MAX_PEM_BYTES), (reason) => `cannot read ${JSON.stringify(path)}: ${reason}`),
      (text) =>
        Either.match(check(text), {
          onLeft: (reason) => Either.left(`${JSON.stringify(path)} ${reason}`),
          onRight: () => Either.right(text)
        })
    )
  )

/** Prints as its path: the file's content is no configuration value. */
const showPath = { [Shown]: ((path: string | undefined) => path ?? null) as Shown }

/** A PEM file as configured: decoded into `to` from its path (which a reload reads again) and its text. */
const pemFile = <A extends { readonly path: string }>(
  to: Schema.Schema<A>,
  check: (text: string) => Either.Either<unknown, string>,
  make: (path: string, pem: string) => A
) =>
  Schema.transformOrFail(Text, to, {
    strict: true,
    decode: (path, _, ast) =>
      Effect.flatMap(
        readPem(path, check),
        Either.match({
          onLeft: (problem) => ParseResult.fail(new ParseResult.Type(ast, path, problem)),
          onRight: (pem) => ParseResult.succeed(make(path, pem))
        })
      ),
    encode: ({ path }) => ParseResult.succeed(path)
  }).annotations(showPath)

const CertificateFile = pemFile(
  Schema.Struct({ path: Schema.String, pem: Schema.String }),
  certificatesIn,
  (path, pem) => ({ path, pem })
)

/** The private key file: its text is a secret, Redacted wherever the configuration is printed or logged. */
const PrivateKeyFile = pemFile(
  Schema.Struct({ path: Schema.String, pem: Schema.RedactedFromSelf(Schema.String) }),
  privateKeyIn,
  (path, pem) => ({ path, pem: Redacted.make(pem) })
)

/** A client's name as its certificate carries it (CN or DNS SAN), compared exactly, ASCII case aside. */
const ClientName = Text.pipe(
  Schema.filter((name) => name.trim() !== "" || "an allowed client name is empty"),
  Schema.filter(
    (name) =>
      !name.includes("*") || `${JSON.stringify(name)}: wildcards are not matched; name each proxy's certificate exactly`
  )
)

const ClientNames = Schema.Array(ClientName).annotations({
  message: () => ({ message: "must be a list of strings", override: false })
})

/** The certificate's first entry is the server's own; its key must be the one configured. */
const keyMatchesCertificate = (tls: {
  readonly certFile?: { readonly pem: string } | undefined
  readonly keyFile?: { readonly pem: Redacted.Redacted<string> } | undefined
}) => {
  if (tls.certFile === undefined || tls.keyFile === undefined) return true
  const leaf = Either.getOrUndefined(certificatesIn(tls.certFile.pem))?.[0]
  const key = Either.getOrUndefined(privateKeyIn(Redacted.value(tls.keyFile.pem)))
  return (
    leaf === undefined ||
    key === undefined ||
    leaf.checkPrivateKey(key) || {
      path: ["key_file"],
      message: `the key does not belong to the first certificate of ${BASE}.cert_file`
    }
  )
}

export const TlsSection = Schema.Struct({
  /** The server's certificate (then its chain), PEM. With key_file, Headtower serves HTTPS. */
  certFile: optionalKey("cert_file", CertificateFile),
  keyFile: optionalKey("key_file", PrivateKeyFile),
  /** The CA that signs the proxy's client certificate, and nothing else. */
  clientCaFile: optionalKey("client_ca_file", CertificateFile),
  /** CN or DNS SAN a client certificate must carry; empty: any certificate of the CA. */
  allowedClientNames: key("allowed_client_names", ClientNames, [])
}).pipe(Schema.filter(keyMatchesCertificate))

const tlsOf = (written: RawTree) => (written.server as RawTree).tls as RawTree

/** Keys that mean something only together, judged on what was written. */
export const tlsRelations = (written: RawTree): Array<ConfigIssue> => {
  const tls = tlsOf(written)
  const issues: Array<ConfigIssue> = []
  const has = (name: string) => tls[name] !== undefined
  if (has("cert_file") !== has("key_file")) {
    const [set, unset] = has("cert_file") ? ["cert_file", "key_file"] : ["key_file", "cert_file"]
    issues.push({ path: `${BASE}.${unset}`, message: `${BASE}.${set} is set without ${BASE}.${unset}; set both` })
  }
  if (has("client_ca_file") && !(has("cert_file") && has("key_file"))) {
    issues.push({
      path: `${BASE}.client_ca_file`,
      message: `client certificates need HTTPS: set ${BASE}.cert_file and ${BASE}.key_file too`
    })
  }
  const names = tls.allowed_client_names
  if (Array.isArray(names) && names.length > 0 && !has("client_ca_file")) {
    issues.push({
      path: `${BASE}.allowed_client_names`,
      message: `names are checked only on certificates of ${BASE}.client_ca_file; set it, or remove this key`
    })
  }
  return issues
}

export const tlsWarnings = (written: RawTree): Array<ConfigWarning> => {
  const tls = tlsOf(written)
  const names = tls.allowed_client_names
  return tls.client_ca_file !== undefined && !(Array.isArray(names) && names.length > 0)
    ? [
        {
          path: `${BASE}.allowed_client_names`,
          message: `is empty: any certificate ${BASE}.client_ca_file signs is trusted as the proxy; use a CA that signs for the proxy alone, or name the proxy here`
        }
      ]
    : []
}
