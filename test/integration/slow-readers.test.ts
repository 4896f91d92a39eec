/**
 * A client that reads an answer slowly or not at all is cut once writing it has taken
 * answerWriteMaxMs (src/exporter/server.ts): each one held the whole answer it was given, and every scrape
 * after the reuse window makes a new one, so a few scrapers that never read, sent a few seconds
 * apart, held one answer each (tens of MB at 50,000 workloads) for as long as they liked.
 * Real HTTP on loopback, a client that stops reading after its request.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { afterEach, expect, test } from 'vitest';
import type { Snapshot } from '../../src/engine/collector.js';
import { createLogger } from '../../src/utils/log.js';
import type { ExporterMetrics } from '../../src/exporter/metrics.js';
import { createApp } from '../../src/exporter/server.js';

/** Larger than what loopback's socket buffers take, so a client that reads nothing leaves most unwritten. */
const ANSWER_MB = 64;
const WRITE_MAX_MS = 1000;
const MEGABYTE = Buffer.alloc(1024 * 1024, 'x');

let server: Server | undefined;
const clients: Socket[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  server?.closeAllConnections();
  server?.close();
  server = undefined;
});

async function start(
  writeMaxMs: number,
  logLines: string[] = [],
  options: { answersWritingMaxBytes?: number; render?: () => Promise<Buffer[]> } = {},
): Promise<{ port: number; serverSockets: Socket[] }> {
  const metrics = {
    contentType: 'text/plain; version=0.0.4',
    // The same Buffer many times: a big answer that costs the test nothing to make.
    render: options.render ?? (async () => Array.from({ length: ANSWER_MB }, () => MEGABYTE)),
  } as unknown as ExporterMetrics;
  const snapshot: Snapshot = { rows: [], lists: [], pending: 0, collectionSeconds: 0 };
  const app = createApp({
    metrics,
    collect: async () => snapshot,
    defaultScrapeTimeoutMs: 5000,
    logger: createLogger('debug', (line) => logLines.push(line)),
    answerWriteMaxMs: writeMaxMs,
    answersWritingMaxBytes: options.answersWritingMaxBytes,
  } as Parameters<typeof createApp>[0]);
  server = createServer(app.callback());
  const serverSockets: Socket[] = [];
  server.on('connection', (socket) => serverSockets.push(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as AddressInfo).port, serverSockets };
}

test('a scraper that never reads its answer is cut after answerWriteMaxMs, and that is one log line', async () => {
  // Without an error listener Koa writes the stack to stderr, in among the JSON log lines.
  const logLines: string[] = [];
  const { port, serverSockets } = await start(WRITE_MAX_MS, logLines);
  const client = connect(port, '127.0.0.1');
  clients.push(client);
  await once(client, 'connect');
  client.pause(); // reads nothing: the kernel's buffers fill and the rest stays with the exporter
  client.write('GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n');
  while (serverSockets.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  const socket = serverSockets[0] as Socket;
  const closed = once(socket, 'close').then(() => true);
  // Generous: the cut is due after WRITE_MAX_MS; without it the socket stays open for good.
  const outcome = await Promise.race([closed, new Promise((resolve) => setTimeout(() => resolve(false), WRITE_MAX_MS + 10_000))]);
  expect(outcome).toBe(true);
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(logLines.filter((line) => line.includes('answer not written whole'))).toHaveLength(1);
}, 30_000);

test('a scraper that reads its answer gets all of it', async () => {
  // Time enough to read 64 MB on a loaded machine.
  const { port } = await start(20_000);
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(response.status).toBe(200);
  expect((await response.arrayBuffer()).byteLength).toBe(ANSWER_MB * MEGABYTE.length);
}, 30_000);

test('answers held by clients that do not read are bounded in bytes: the oldest are cut, long before the time bound', async () => {
  // Each scrape after the reuse window makes a new answer of 16 MB; at most 40 MB may be held.
  const { port, serverSockets } = await start(60_000, [], {
    answersWritingMaxBytes: 40 * MEGABYTE.length,
    render: async () => Array.from({ length: 16 }, () => Buffer.alloc(MEGABYTE.length, 'y')),
  });
  const closed: boolean[] = [];
  for (let i = 0; i < 4; i++) {
    const client = connect(port, '127.0.0.1');
    clients.push(client);
    await once(client, 'connect');
    client.pause();
    client.write('GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n');
    while (serverSockets.length <= i) await new Promise((resolve) => setTimeout(resolve, 10));
    closed[i] = false;
    serverSockets[i]!.once('close', () => (closed[i] = true));
    // Past the reuse window (100 ms): the next scrape makes a new answer.
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  // Three answers of 16 MB would be 48 MB: the first two clients were cut, the last two are still
  // being written to. (Generous on a loaded machine: without the bound nobody is cut for 60 s.)
  for (let waited = 0; !(closed[0] && closed[1]) && waited < 10_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
  expect(closed).toEqual([true, true, false, false]);
}, 30_000);
