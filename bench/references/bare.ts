import { createServer } from "node:http"
import { BlockList } from "node:net"

/*
 * The floor: the same check Headtower makes on GET /api/me with nothing else — the socket
 * peer is in 127.0.0.1/32 and Remote-User is present — answered with a small JSON body.
 */
const allowed = new BlockList()
allowed.addSubnet("127.0.0.1", 32, "ipv4")

const port = Number(process.argv[2])
createServer((req, res) => {
  const peer = req.socket.remoteAddress ?? ""
  const user = req.headers["remote-user"]
  if (!allowed.check(peer, "ipv4") || typeof user !== "string" || user === "") {
    res.writeHead(401, { "content-type": "application/json" }).end('{"_tag":"Unauthorized"}')
    return
  }
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ identity: `proxy:${user}` }))
}).listen(port, "127.0.0.1")
