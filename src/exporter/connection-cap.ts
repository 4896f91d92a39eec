/**
 * Bounds the connections the listener holds open. Node keeps a connection that sends nothing for
 * up to its headers timeout (66 s here, and a TLS handshake up to 120 s), and has no bound on how
 * many: measured, each idle TLS connection costs the exporter some 28 KB, so 10,000 of them (the
 * port reached by any pod, as a webhook's is) would pass deploy/'s memory limit. Past the bound the
 * oldest connection with no request being answered is closed, not the new one: Prometheus, the
 * kubelet's probes and the API server open new connections, which must get through a flood of
 * idle ones, and a connection answering a request is never cut.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/** About 28 MB of idle TLS connections; more than Prometheus, the probes and the API server use at once. */
export const MAX_OPEN_CONNECTIONS = 1000;

/** The same connection seen as its TCP socket and, over TLS, as the TLS socket the requests come on. */
function keyOf(socket: Pick<Socket, 'remoteAddress' | 'remotePort'>): string {
  return `${socket.remoteAddress}|${socket.remotePort}`;
}

export function capConnections(server: Server, max = MAX_OPEN_CONNECTIONS, onEvicted: () => void = () => undefined): void {
  /** Oldest first (a Map keeps insertion order); the value: requests being answered on it. */
  const open = new Map<string, { socket: Socket; busy: number }>();
  server.on('connection', (socket: Socket) => {
    const key = keyOf(socket);
    const entry = { socket, busy: 0 };
    open.set(key, entry);
    socket.once('close', () => {
      if (open.get(key) === entry) open.delete(key);
    });
    if (open.size <= max) return;
    for (const [oldKey, old] of open) {
      if (old.busy > 0 || old === entry) continue;
      open.delete(oldKey);
      old.socket.destroy();
      onEvicted();
      return;
    }
  });
  server.on('request', (req, res) => {
    const entry = open.get(keyOf(req.socket));
    if (!entry) return;
    entry.busy++;
    // 'finish', not 'close' (which koa and the answer's own bounds already listen to, up to Node's
    // ten): an answer that never finishes ends with its connection, whose entry goes then.
    res.once('finish', () => entry.busy--);
  });
}
