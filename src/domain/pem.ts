import { Either } from "effect"
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto"

/*
 * Reading the PEM files `server.tls` names, with the reason an operator can act on when one
 * cannot be used. Node's own parsers decide (the TLS layer uses the same OpenSSL), so a file
 * accepted here is one the server can load.
 */

/** Certificate files, CA bundles included, are a few KiB to a few hundred; more is not a PEM file. */
export const MAX_PEM_BYTES = 1024 * 1024

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g

/** Every certificate in a PEM text, in order; Left when there is none or one does not parse. */
export const certificatesIn = (pem: string): Either.Either<ReadonlyArray<X509Certificate>, string> => {
  const blocks = pem.match(CERTIFICATE_BLOCK) ?? []
  if (blocks.length === 0) return Either.left("holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
  const certificates: Array<X509Certificate> = []
  for (const [i, block] of blocks.entries()) {
    try {
      certificates.push(new X509Certificate(block))
    } catch (error) {
      return Either.left(`certificate ${i + 1} does not parse: ${error instanceof Error ? error.message : error}`)
    }
  }
  return Either.right(certificates)
}

/** The private key of a PEM text; an encrypted key is refused (the server could not be started unattended). */
export const privateKeyIn = (pem: string): Either.Either<KeyObject, string> => {
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(pem)) {
    return Either.left("is an encrypted private key; give the key without a passphrase (readable by Headtower alone)")
  }
  try {
    return Either.right(createPrivateKey(pem))
  } catch (error) {
    return Either.left(`holds no usable PEM private key: ${error instanceof Error ? error.message : error}`)
  }
}
