import type { Server } from "node:http"
import type { Socket } from "node:net"
import { type CidrList, parsePeerIp } from "../domain/Address.js"
import { MAX_CONNECTIONS, STRANGER_CONNECTIONS, STRANGER_CONNECTIONS_PER_ADDRESS } from "./limits.js"

/*
 * Who may hold a connection. A first-come cap alone (Node's `maxConnections`) lets one stranger
 * open every slot and keep the proxy out; here the strangers' share is bounded, as a whole and
 * per address, and the rest stays for the peers the configuration names.
 */

/** Counts connections by kind and closes, at accept, one that would pass its kind's limit. */
export const limitConnections = (server: Server, known: ReadonlyArray<CidrList>): void => {
  let open = 0
  let strangers = 0
  const byStranger = new Map<string, number>()
  server.on("connection", (socket: Socket) => {
    const peer = socket.remoteAddress === undefined ? undefined : parsePeerIp(socket.remoteAddress)
    const isKnown = peer !== undefined && known.some((cidrs) => cidrs.match(peer) !== undefined)
    const address = peer?.text ?? "unknown"
    const mine = byStranger.get(address) ?? 0
    const refused =
      open >= MAX_CONNECTIONS ||
      (!isKnown && (strangers >= STRANGER_CONNECTIONS || mine >= STRANGER_CONNECTIONS_PER_ADDRESS))
    if (refused) {
      socket.destroy()
      return
    }
    open++
    if (!isKnown) {
      strangers++
      byStranger.set(address, mine + 1)
    }
    socket.once("close", () => {
      open--
      if (isKnown) return
      strangers--
      const left = (byStranger.get(address) ?? 1) - 1
      if (left === 0) byStranger.delete(address)
      else byStranger.set(address, left)
    })
  })
}
