import express from "express"
import { BlockList } from "node:net"

/** A peer: Express 5 making the same check as the bare server (peer in 127.0.0.1/32, Remote-User present). */
const allowed = new BlockList()
allowed.addSubnet("127.0.0.1", 32, "ipv4")

const app = express()
app.get("/api/me", (req, res) => {
  const peer = req.socket.remoteAddress ?? ""
  const user = req.get("remote-user")
  if (!allowed.check(peer, "ipv4") || user === undefined || user === "") {
    res.status(401).json({ _tag: "Unauthorized" })
    return
  }
  res.json({ identity: `proxy:${user}` })
})
app.listen(Number(process.argv[2]), "127.0.0.1")
