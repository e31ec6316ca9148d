import { Duration, Effect, Either } from "effect"
import { constants } from "node:fs"
import { open } from "node:fs/promises"

/*
 * Reading the files named at start-up (the configuration, the Headscale API key). They must
 * be regular files: a FIFO or a device such as /dev/zero would block or never end, and a
 * blocking synchronous read froze the event loop so that even SIGTERM went unheard. So the
 * file is opened without blocking (O_NONBLOCK: a FIFO does not wait for a writer), checked
 * to be a regular file no larger than the bound, read asynchronously (start-up stays
 * interruptible by SIGTERM/SIGINT at any point) and given up on after a deadline.
 */

/** A configuration file is a few KiB; 1 MiB is generous. */
export const MAX_CONFIG_BYTES = 1024 * 1024
/** A Headscale API key is under 100 bytes; 4 KiB leaves room for a newline and then some. */
export const MAX_KEY_FILE_BYTES = 4 * 1024
const READ_DEADLINE = Duration.seconds(5)

const kib = (bytes: number) => `${bytes / 1024} KiB`

const readRegularFile = async (path: string, limit: number): Promise<Either.Either<string, string>> => {
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK)
  try {
    const st = await handle.stat()
    if (!st.isFile()) {
      const kind = st.isFIFO()
        ? "a FIFO"
        : st.isCharacterDevice() || st.isBlockDevice()
          ? "a device"
          : st.isDirectory()
            ? "a directory"
            : "not a regular file"
      return Either.left(`${kind === "not a regular file" ? kind : `${kind}, not a regular file`}; name a regular file`)
    }
    if (st.size > limit) return Either.left(`${st.size} bytes, more than the ${kib(limit)} such a file may hold`)
    // Read one byte past the bound, in case the file grew since the stat.
    const buffer = Buffer.alloc(limit + 1)
    let length = 0
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null)
      if (bytesRead === 0) break
      length += bytesRead
      if (length > limit) return Either.left(`more than the ${kib(limit)} such a file may hold`)
    }
    return Either.right(buffer.toString("utf8", 0, length))
  } finally {
    await handle.close()
  }
}

/** The file's text, or Left with why it cannot be used (e.g. "ENOENT: no such file …", "a FIFO, not a regular file"). */
export const readStartupFile = (path: string, limit: number): Effect.Effect<Either.Either<string, string>> =>
  Effect.tryPromise(() => readRegularFile(path, limit)).pipe(
    Effect.catchAll(({ error }) => Effect.succeed(Either.left(error instanceof Error ? error.message : String(error)))),
    Effect.timeoutTo({
      duration: READ_DEADLINE,
      onSuccess: (read) => read,
      onTimeout: () => Either.left(`not read within ${Duration.format(READ_DEADLINE)}`)
    })
  )
