/**
 * The nodes' own pull configuration (--containerd-hosts-dir, --registries-conf) against hostile
 * endpoints and files, through the real registry client and the process as deployed. The pure
 * bounds are in test/unit/adversary-node-config.test.ts.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Endpoint } from '../../src/image/pull-plan.js';
import { parseImageReference } from '../../src/image/reference.js';
import { RegistryClient } from '../../src/registry/client.js';
import { Transport } from '../../src/registry/transport.js';
import { listenLoopback } from '../support/listen.js';

describe('an insecure registries.conf endpoint: the HTTPS-or-HTTP decision', () => {
  let server: Server;
  let host: string;
  let probes = 0;
  let manifests = 0;
  let transport: Transport;

  beforeAll(async () => {
    // Plain HTTP only (HTTPS fails at once); its /v2/ answers slowly, so concurrent checks overlap.
    server = createServer((req, res) => {
      if (req.url === '/v2/') {
        probes++;
        setTimeout(() => res.writeHead(200, { 'docker-distribution-api-version': 'registry/2.0' }).end(), 300);
        return;
      }
      manifests++;
      res.writeHead(200, { 'docker-distribution-api-version': 'registry/2.0', 'content-type': 'application/vnd.oci.image.manifest.v1+json' }).end();
    });
    host = await listenLoopback(server);
    transport = new Transport({ requestTimeoutMs: 5_000 });
  });
  afterAll(async () => {
    await transport.destroy();
    server.close();
  });

  test('a burst of 200 checks asks it once, not once per check', async () => {
    const client = new RegistryClient({ transport, isPlainHttpHost: () => false });
    const endpoint: Endpoint = { scheme: 'https', host, apiPath: '/v2', tls: { skipVerify: true }, httpFallback: true };
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => client.attempt(parseImageReference(`${host}/app${i}:1`), undefined, false, endpoint)));
    expect(answers.map((a) => a.status)).toEqual(Array(200).fill('present'));
    expect(manifests).toBe(200);
    expect(probes).toBe(1);
  });
});
