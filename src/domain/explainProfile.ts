import type { DroppedHeader } from "./IdentityHeaders.js"
import type { Profile } from "./User.js"

/** A signed-in profile's metadata and what was dropped, as explain prints them (headers or claims). */
export const profileLines = (profile: Profile, dropped: ReadonlyArray<DroppedHeader>): Array<string> => {
  const lines: Array<string> = []
  for (const [label, value] of [
    ["email", profile.email],
    ["name", profile.name],
    ["picture", profile.picture]
  ] as const) {
    if (value !== null) lines.push(`${label}: ${value}`)
  }
  for (const d of dropped) lines.push(`dropped (login continues): ${d.reason}`)
  return lines
}
