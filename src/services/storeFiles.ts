import { Schema } from "effect"
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  lstatSync,
  mkdirSync,
  openSync,
  realpathSync,
  type Stats,
  statSync
} from "node:fs"
import { dirname, resolve } from "node:path"

/*
 * Who may touch the SQLite store's files. The store holds every identity, email and the audit
 * log, and whoever can replace it decides who owns the instance. So the data directory is
 * created 0700 and the database 0600 whatever the umask (SQLite gives its -wal and -shm files
 * the database's mode), and start-up refuses files another local user could read, write or
 * swap: a directory or file writable by others, a file owned by another user (directly or at
 * the end of a symlink). Root is the one other owner accepted for a directory: it can do
 * anything anyway.
 */

/** The store may not be used as configured; the message names the path and the fix. */
export class UserStoreRefused extends Schema.TaggedError<UserStoreRefused>()("UserStoreRefused", {
  message: Schema.String
}) {}

const PRIVATE_DIR = 0o700
const PRIVATE_FILE = 0o600
const WRITABLE_BY_OTHERS = 0o022
const READABLE_BY_OTHERS = 0o044

const euid = (): number => process.geteuid?.() ?? 0
const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, "0")

const refuse = (message: string) => new UserStoreRefused({ message })

const checkDirectory = (dir: string): UserStoreRefused | undefined => {
  const st = statSync(dir)
  if (!st.isDirectory()) return refuse(`the data directory ${dir} is not a directory`)
  if ((st.mode & WRITABLE_BY_OTHERS) !== 0) {
    return refuse(
      `the data directory ${dir} is writable by other users (mode ${octal(
        st.mode
      )}): any of them could replace the user store; run \`chmod 700 ${dir}\` or choose another directory in database.url`
    )
  }
  if (st.uid !== euid() && st.uid !== 0) {
    return refuse(
      `the data directory ${dir} belongs to uid ${st.uid}, not to the user Headtower runs as (uid ${euid()}): its owner could replace the user store; \`chown\` it to Headtower's user or choose another directory`
    )
  }
  return undefined
}

/** A store file that exists: ours, regular, written by nobody else; read bits for others are removed. */
const checkFile = (path: string, st: Stats, what: string): UserStoreRefused | undefined => {
  if (!st.isFile()) return refuse(`${what} ${path} is not a regular file`)
  if (st.uid !== euid()) {
    return refuse(
      `${what} ${path} belongs to uid ${st.uid}, not to the user Headtower runs as (uid ${euid()}); Headtower will not adopt a store another user controls: run Headtower (and its commands) as that user, \`chown\` the file to Headtower's user if it is yours, or point database.url elsewhere`
    )
  }
  if ((st.mode & WRITABLE_BY_OTHERS) !== 0) {
    return refuse(
      `${what} ${path} is writable by other users (mode ${octal(
        st.mode
      )}); check it was not tampered with, then run \`chmod 600 ${path}\``
    )
  }
  // Readable by others (0644, as earlier versions created it): ours, so tightened in place.
  if ((st.mode & READABLE_BY_OTHERS) !== 0) chmodSync(path, PRIVATE_FILE)
  return undefined
}

/**
 * Makes `path` (from `sqlite:<path>`) safe to open, or says why it is not: creates the data
 * directory 0700 and a new database file 0600, checks an existing one and its directory.
 * Returns the real path SQLite will open (symlinks resolved).
 */
export const prepareStoreFiles = (path: string): { readonly real: string } | UserStoreRefused => {
  const configuredDir = dirname(resolve(path))
  if (statSync(configuredDir, { throwIfNoEntry: false }) === undefined) {
    mkdirSync(configuredDir, { recursive: true, mode: PRIVATE_DIR })
    chmodSync(configuredDir, PRIVATE_DIR) // the umask may have taken bits away
  }
  const dirProblem = checkDirectory(configuredDir)
  if (dirProblem) return dirProblem

  const link = lstatSync(path, { throwIfNoEntry: false })
  if (link === undefined) {
    // Created here rather than by SQLite, so its mode (and so the -wal's and -shm's) is exact.
    const fd = openSync(
      path,
      constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW,
      PRIVATE_FILE
    )
    try {
      fchmodSync(fd, PRIVATE_FILE)
    } finally {
      closeSync(fd)
    }
    return { real: resolve(path) }
  }
  let real: string
  try {
    real = realpathSync(path)
  } catch {
    return refuse(
      `database.url names ${path}, a symbolic link to nothing; point database.url at the database file itself`
    )
  }
  const realDir = dirname(real)
  if (realDir !== configuredDir) {
    const realDirProblem = checkDirectory(realDir)
    if (realDirProblem) return realDirProblem
  }
  const what = real === resolve(path) ? "the user store" : `the user store (${path} resolves to)`
  const problem = checkFile(real, statSync(real), what)
  if (problem) return problem
  for (const suffix of ["-wal", "-shm"]) {
    const st = lstatSync(real + suffix, { throwIfNoEntry: false })
    const sideProblem = st === undefined ? undefined : checkFile(real + suffix, st, "the user store's")
    if (sideProblem) return sideProblem
  }
  return { real }
}
