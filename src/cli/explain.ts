import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { Console, Effect, Either, Layer, Logger, LogLevel, Option } from "effect"
import { existsSync } from "node:fs"
import type { AppConfig } from "../domain/AppConfig.js"
import { MAX_LINE, printable, quoted } from "../domain/display.js"
import { peerCertificateFromPem } from "../domain/clientCertificate.js"
import { explainJudgement, explainProvisioning } from "../domain/explain.js"
import { certificatesIn, MAX_PEM_BYTES } from "../domain/pem.js"
import { requestFacts } from "../domain/RequestFacts.js"
import { judgeTrust, pureStepDecisions, settle, trustSettings } from "../domain/trust.js"
import type { Identity } from "../domain/User.js"
import { AssertionVerifier } from "../services/AssertionVerifier.js"
import { loadConfig, Settings } from "../services/Settings.js"
import { readStartupFile } from "../services/startupFile.js"
import { UserRepository } from "../services/UserRepository.js"
import { configOption } from "./options.js"

const peerOption = Options.text("peer").pipe(Options.withDescription("the socket address the request comes from"))
const headerOption = Options.text("header").pipe(
  Options.withAlias("H"),
  Options.withDescription("a request header, 'Name: value' (repeat for several, or to send one twice)"),
  Options.repeated
)
const clientCertOption = Options.file("client-cert", { exists: "yes" }).pipe(
  Options.withDescription("the PEM certificate the connection presents (judged against server.tls.client_ca_file)"),
  Options.optional
)

/** The certificate file as a connection presenting it would show it, verified against client_ca_file now. */
const clientCertificate = (config: AppConfig, path: string) =>
  Effect.gen(function* () {
    const pem = yield* readStartupFile(path, MAX_PEM_BYTES)
    const ca = config.server.tls.clientCaFile
    const authorities = ca === undefined ? [] : Either.getOrElse(certificatesIn(ca.pem), () => [])
    const certificate = Either.flatMap(pem, (text) => peerCertificateFromPem(text, authorities, new Date()))
    if (Either.isLeft(certificate))
      return yield* Effect.fail(new Error(`--client-cert ${quoted(path)}: ${certificate.left}`))
    return certificate.right
  })

/** Verifies a token as the server would: the configured keys are fetched (or read) for it; nothing is kept. */
const verifyToken = (config: AppConfig) => (token: string) =>
  Effect.flatMap(AssertionVerifier, (verifier) => verifier.verify(token)).pipe(
    Effect.provide(AssertionVerifier.Default.pipe(Layer.provide(Layer.succeed(Settings, config)))),
    // The key loader's log lines would land among the steps; a load that fails is the command's error.
    Logger.withMinimumLogLevel(LogLevel.None)
  )

/** `Name: value` as typed; the value is handed over as Node would (UTF-8 bytes read as Latin-1). */
const parseHeader = (text: string): [string, string] | undefined => {
  const colon = text.indexOf(":")
  if (colon <= 0) return undefined
  // Node trims only spaces and tabs; `trim()` would also eat NBSP and judge another identity.
  const value = text.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "")
  return [text.slice(0, colon).trim().toLowerCase(), Buffer.from(value, "utf8").toString("latin1")]
}

/** Reads the user store without creating it: a missing SQLite file means "no users yet". */
const lookUp = (config: AppConfig, identity: Identity) => {
  if (config.database.kind === "sqlite" && config.database.path !== ":memory:" && !existsSync(config.database.path)) {
    return Effect.succeed({ existing: undefined, anyUserExists: false, note: "the user store does not exist yet" })
  }
  // Providing the layer opens the store, so it is provided only once the store is known to exist.
  return Effect.gen(function* () {
    const users = yield* UserRepository
    const existing = Option.getOrUndefined(yield* users.findByIdentity(identity))
    const anyUserExists = existing !== undefined || (yield* users.list({ limit: 1 })).users.length > 0
    return { existing, anyUserExists, note: undefined }
  }).pipe(Effect.provide(UserRepository.Default.pipe(Layer.provide(Layer.succeed(Settings, config)))))
}

export const explainCommand = Command.make(
  "explain",
  { config: configOption, peer: peerOption, headers: headerOption, clientCert: clientCertOption },
  ({ clientCert, config: path, headers, peer }) =>
    Effect.gen(function* () {
      const config = yield* loadConfig(Option.getOrUndefined(path))
      const parsed = headers.map((h) => [h, parseHeader(h)] as const)
      const bad = parsed.find(([, p]) => p === undefined)
      if (bad) return yield* Effect.fail(new Error(`-H ${quoted(bad[0])}: expected 'Name: value'`))
      const facts = {
        ...requestFacts(
          peer,
          parsed.map(([, p]) => p!)
        ),
        clientCertificate: Option.isSome(clientCert) ? yield* clientCertificate(config, clientCert.value) : undefined
      }
      const settings = trustSettings(config)
      // The server's judgement; a token it cannot judge from memory is verified with the configured keys.
      const judgement = yield* settle(judgeTrust(settings, pureStepDecisions(settings), facts), verifyToken(config))
      const trust = explainJudgement(settings, facts, judgement)
      const lines = [...trust.steps]
      if (Option.isSome(clientCert) && config.server.tls.clientCaFile === undefined) {
        lines.unshift("client certificate: not checked (server.tls.client_ca_file is not set)")
      }
      let { status, outcome } = trust
      if (trust.identity !== undefined) {
        const store = yield* lookUp(config, trust.identity)
        if (store.note) lines.push(store.note)
        const provisioning = explainProvisioning(store.existing, store.anyUserExists, trust.mapped)
        lines.push(provisioning.step)
        status = provisioning.status
        outcome = provisioning.outcome
      }
      // Steps quote the peer and header values as given: printable, so they cannot drive the terminal.
      for (const [i, line] of lines.entries()) {
        yield* Console.log(`${String(i + 1).padStart(2)}. ${printable(line, MAX_LINE)}`)
      }
      yield* Console.log(`=> ${status} ${outcome} (nothing was written)`)
    })
).pipe(Command.withDescription("show, step by step, what proxy authentication would decide for a request"))
