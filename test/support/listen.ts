import { once } from 'node:events';
import type { AddressInfo, Server } from 'node:net';

/** Listens on a free loopback port and returns `127.0.0.1:PORT`. */
export async function listenLoopback(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening'); // rejects on 'error'
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}
