/**
 * The registry client reaching a place the way a node's configuration says (PullSource.endpoint):
 * its own CA, a client certificate, skip_verify, extra headers and query, plain HTTP only when the
 * file says so, and containers/image's `insecure` (HTTPS unverified, then HTTP). Real registries
 * (Debian's docker-registry); TLS and client-certificate checks by a loopback front with its own CA.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Endpoint } from '../../src/image/pull-plan.js';
import { parseImageReference } from '../../src/image/reference.js';
import { RegistryClient } from '../../src/registry/client.js';
import { Transport } from '../../src/registry/transport.js';
import { createCa, issueCert, type IssuedCert } from '../support/client-cert.js';
import { createPki, type Pki } from '../support/pki.js';
import { startRecordingProxy, type RecordingProxy } from '../support/proxy.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';

const PASSWORD = 'pw-Endp0int-4b1d';

let pki: Pki;
let plain: RunningRegistry; // plain HTTP, anonymous
let locked: RunningRegistry; // plain HTTP, htpasswd
let tlsRegistry: RunningRegistry; // HTTPS with the test CA (not trusted by default)
let front: RecordingProxy; // HTTPS front of `plain` with the test CA
let mtlsFront: RecordingProxy; // HTTPS front that wants a client certificate
let clientCert: IssuedCert;
let transport: Transport;
let client: RegistryClient;

const ref = (host: string, rest: string) => parseImageReference(`${host}/${rest}`);
const https = (host: string, extra: Partial<Endpoint> = {}): Endpoint => ({ scheme: 'https', host, apiPath: '/v2', ...extra });

beforeAll(async () => {
  pki = await createPki();
  [plain, locked, tlsRegistry] = await Promise.all([
    startRegistry(),
    startRegistry({ auth: { kind: 'htpasswd', users: { alice: PASSWORD } } }),
    startRegistry({ tls: pki }),
  ]);
  await Promise.all([
    pushImage(plain, 'team/app', '1', 'oci'),
    pushImage(locked, 'team/app', '1', 'docker'),
    pushImage(tlsRegistry, 'team/app', '1', 'oci-index'),
  ]);
  front = await startRecordingProxy(plain.url, { serveTls: pki });
  const clientCa = await createCa('registry client CA');
  clientCert = await issueCert(clientCa, 'node', { usage: 'client' });
  const { readFile } = await import('node:fs/promises');
  mtlsFront = await startRecordingProxy(plain.url, { serveTls: pki, clientCaPem: await readFile(clientCa.caCertFile, 'utf8') });
  transport = new Transport({ requestTimeoutMs: 5_000 });
  // Nothing is plain HTTP unless an endpoint says so.
  client = new RegistryClient({ transport, isPlainHttpHost: () => false });
});

afterAll(async () => {
  await transport?.destroy();
  await Promise.all([front?.stop(), mtlsFront?.stop(), plain?.stop(), locked?.stop(), tlsRegistry?.stop()]);
});

describe("an endpoint's own TLS", () => {
  test('its CA: present and absent are told; without it the registry cannot be asked (never absent)', async () => {
    const withCa = https(tlsRegistry.host, { tls: { caPems: [pki.caCertPem] } });
    expect((await client.attempt(ref(tlsRegistry.host, 'team/app:1'), undefined, false, withCa)).status).toBe('present');
    expect((await client.attempt(ref(tlsRegistry.host, 'team/app:2'), undefined, false, withCa)).status).toBe('absent');
    const untrusted = await client.attempt(ref(tlsRegistry.host, 'team/app:2'), undefined, false, https(tlsRegistry.host));
    expect(untrusted.status).toBe('registry_unavailable');
    // The default endpoint of the same host does not inherit the endpoint's CA.
    expect((await client.attempt(ref(tlsRegistry.host, 'team/app:1'), undefined, false)).status).toBe('registry_unavailable');
  });

  test('skip_verify', async () => {
    const answer = await client.attempt(ref(front.host, 'team/app:1'), undefined, false, https(front.host, { tls: { skipVerify: true } }));
    expect(answer.status).toBe('present');
  });

  test('a client certificate, where the registry wants one', async () => {
    const tls = { caPems: [pki.caCertPem], clientCertPem: clientCert.certPem, clientKeyPem: clientCert.keyPem };
    expect((await client.attempt(ref(mtlsFront.host, 'team/app:1'), undefined, false, https(mtlsFront.host, { tls }))).status).toBe('present');
    expect((await client.attempt(ref(mtlsFront.host, 'team/app:2'), undefined, false, https(mtlsFront.host, { tls }))).status).toBe('absent');
    const without = await client.attempt(ref(mtlsFront.host, 'team/app:2'), undefined, false, https(mtlsFront.host, { tls: { caPems: [pki.caCertPem] } }));
    expect(without.status).not.toBe('absent');
    expect(without.status).not.toBe('present');
  });
});

describe("an endpoint's headers and query", () => {
  test('go with every request to that host: the /v2/ ping and the manifest requests', async () => {
    front.reset();
    const endpoint = https(front.host, { tls: { caPems: [pki.caCertPem] }, headers: { 'x-node-mirror': 'east' }, query: { ns: 'docker.io' } });
    const credential = { id: 'node', username: 'alice', password: PASSWORD };
    expect((await client.attempt(ref(front.host, 'team/app:1'), credential, true, endpoint)).status).toBe('present');
    expect(front.requests.length).toBeGreaterThanOrEqual(2);
    for (const request of front.requests) expect(request.headers['x-node-mirror']).toBe('east');
    const manifests = front.requests.filter((r) => r.path.includes('/manifests/'));
    expect(manifests.length).toBeGreaterThan(0);
    for (const request of manifests) expect(request.path).toBe('/v2/team/app/manifests/1?ns=docker.io');
  });
});

describe('plain HTTP only as the configuration says', () => {
  test('an http:// endpoint is asked over HTTP, credentials included', async () => {
    const credential = { id: 'node', username: 'alice', password: PASSWORD };
    const endpoint: Endpoint = { scheme: 'http', host: locked.host, apiPath: '/v2' };
    expect((await client.attempt(ref(locked.host, 'team/app:1'), credential, true, endpoint)).status).toBe('present');
    expect((await client.attempt(ref(locked.host, 'team/app:9'), credential, true, endpoint)).status).toBe('absent');
  });

  test('without it, the same registry gets no credentials over HTTP', async () => {
    const credential = { id: 'node', username: 'alice', password: PASSWORD };
    // Its default endpoint is HTTPS, which a plain registry does not speak: could not tell, never absent.
    const answer = await client.attempt(ref(locked.host, 'team/app:9'), credential, true);
    expect(answer.status).not.toBe('absent');
    expect(answer.status).not.toBe('present');
  });

  test("insecure (containers/image): HTTPS unverified when the registry speaks it, HTTP otherwise", async () => {
    const insecure = (host: string): Endpoint => ({ scheme: 'https', host, apiPath: '/v2', httpFallback: true, tls: { skipVerify: true } });
    front.reset();
    expect((await client.attempt(ref(front.host, 'team/app:1'), undefined, false, insecure(front.host))).status).toBe('present');
    expect(front.requests.length).toBeGreaterThan(0); // it was HTTPS: the front only speaks that
    const credential = { id: 'node', username: 'alice', password: PASSWORD };
    expect((await client.attempt(ref(locked.host, 'team/app:1'), credential, true, insecure(locked.host))).status).toBe('present');
    expect((await client.attempt(ref(locked.host, 'team/app:9'), credential, true, insecure(locked.host))).status).toBe('absent');
  });
});
