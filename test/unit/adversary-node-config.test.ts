/**
 * The nodes' own pull configuration attacked with its largest, most numerous and most malformed
 * inputs (issue 23 part 2): what a hosts directory or a registries.conf can make each image's plan
 * cost, and what reaches the HTTP client. Pure parts here; the process as deployed in
 * test/integration/adversary-node-config.test.ts.
 */
import { describe, expect, test } from 'vitest';
import type { PullPlan } from '../../src/image/pull-plan.js';
import { parseImageReference } from '../../src/image/reference.js';
import { containerdHostsPlaces, parseHostsToml, type LoadedHost } from '../../src/node-config/containerd-hosts.js';
import { parseRegistriesConf, registriesConfPlaces } from '../../src/node-config/registries-conf.js';

const DIR = '/etc/containerd/certs.d/_default';
const FILE = `${DIR}/hosts.toml`;
const loaded = (text: string): LoadedHost[] =>
  (parseHostsToml(text, DIR, FILE) ?? []).map((h) => ({ ...h, caPems: h.caFiles.map((f) => `PEM of ${f}`), client: undefined }));
const tlsOf = (plan: PullPlan) => plan.sources.map((s) => s.endpoint?.tls);

describe('one TLS object per configured endpoint, whatever the number of images', () => {
  // The transport keeps one dispatcher (TLS context, connection pool) per EndpointTls object: a new
  // object per image would build a TLS context and open new connections for every image.
  test('containerd: a host with a CA, skip_verify, and a loopback registry default', () => {
    const hosts = loaded(['[host."https://mirror.example"]', 'ca = "ca.crt"', '[host."https://other.example"]', 'skip_verify = true'].join('\n'));
    const places = containerdHostsPlaces(new Map([['_default', hosts]]));
    for (const registry of ['r.example', 'localhost:5000']) {
      const a = tlsOf(places.plan(parseImageReference(`${registry}/one:1`)));
      const b = tlsOf(places.plan(parseImageReference(`${registry}/two@sha256:${'a'.repeat(64)}`)));
      expect(a.length).toBe(3);
      for (const [i, tls] of a.entries()) expect(b[i]).toBe(tls);
    }
    expect(tlsOf(places.plan(parseImageReference('localhost:5000/x:1')))[2]).toEqual({ skipVerify: true });
  });

  test('registries.conf: insecure places', () => {
    const conf = parseRegistriesConf(
      ['[[registry]]', 'prefix = "r.example"', 'location = "r.example"', 'insecure = true', '[[registry.mirror]]', 'location = "m.example"', 'insecure = true'].join('\n'),
      '/etc/containers/registries.conf',
    );
    const places = registriesConfPlaces({ registries: conf });
    const a = tlsOf(places.plan(parseImageReference('r.example/one:1')));
    const b = tlsOf(places.plan(parseImageReference('r.example/two:1')));
    expect(a).toHaveLength(2);
    expect(a[0]).toBeDefined();
    expect(b[0]).toBe(a[0]);
    expect(b[1]).toBe(a[1]);
  });
});
