/**
 * The nodes' own pull configuration attacked with its largest, most numerous and most malformed
 * inputs (issue 23 part 2): what a hosts directory or a registries.conf can make each image's plan
 * cost, and what reaches the HTTP client. Pure parts here; the process as deployed in
 * test/integration/adversary-node-config.test.ts.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { endpointKey, type PullPlan } from '../../src/image/pull-plan.js';
import { parseImageReference } from '../../src/image/reference.js';
import { containerdHostsPlaces, MAX_HEADER_BYTES, MAX_HEADERS, parseHostsToml, type LoadedHost } from '../../src/node-config/containerd-hosts.js';
import { loadContainerdHosts, MAX_TOTAL_BYTES as MAX_HOSTS_DIR_BYTES } from '../../src/node-config/containerd-hosts-load.js';
import { NodeConfigError } from '../../src/node-config/node-config-error.js';
import { MAX_MIRRORS, MAX_REGISTRIES, parseRegistriesConf, registriesConfPlaces } from '../../src/node-config/registries-conf.js';
import { loadRegistriesConf, MAX_TOTAL_BYTES as MAX_CONF_TOTAL_BYTES } from '../../src/node-config/registries-conf-load.js';
import { createPki } from '../support/pki.js';
import { makeTempDir } from '../support/tmp.js';

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

const thrown = async (fn: () => Promise<unknown>): Promise<string> => {
  const error = await fn().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(NodeConfigError);
  return (error as Error).message;
};
/** A TOML comment of about `bytes`: cheap to parse, so only the byte bound can refuse it. */
const padding = (bytes: number) => `# ${'x'.repeat(bytes)}\n`;

describe('counts each image pays for, bounded at load', () => {
  const RC = '/etc/containers/registries.conf';
  const entry = (i: number, mirrors = 0) =>
    `[[registry]]\nprefix = "r${i}.example"\nlocation = "r${i}.example"\n` + Array.from({ length: mirrors }, (_, m) => `[[registry.mirror]]\nlocation = "m${m}.example"\n`).join('');

  test(`registries.conf: ${MAX_MIRRORS} mirrors per registry and ${MAX_REGISTRIES} registries are read, more are errors`, () => {
    const plan = registriesConfPlaces({ registries: parseRegistriesConf(entry(0, MAX_MIRRORS), RC) }).plan(parseImageReference('r0.example/a:1'));
    expect(plan.sources).toHaveLength(MAX_MIRRORS + 1);
    expect(() => parseRegistriesConf(entry(0, 20_000), RC)).toThrow(`${RC}: [[registry]] #1: 20000 mirrors; at most ${MAX_MIRRORS} are read`);
    expect(parseRegistriesConf(Array.from({ length: MAX_REGISTRIES }, (_, i) => entry(i)).join(''), RC)).toHaveLength(MAX_REGISTRIES);
    expect(() => parseRegistriesConf(Array.from({ length: 16_000 }, (_, i) => entry(i)).join(''), RC)).toThrow(`${RC}: 16000 registries; at most ${MAX_REGISTRIES} are read`);
  });

  test('registries.conf: drop-ins may not add up past the registries bound or the bytes bound', async () => {
    const dir = await makeTempDir('adv');
    const file = join(dir, 'registries.conf');
    await writeFile(file, '');
    await mkdir(join(dir, 'registries.conf.d'));
    // 3 drop-ins of 400 registries each: every file is fine, together they are not.
    for (let d = 0; d < 3; d++) await writeFile(join(dir, 'registries.conf.d', `${d}.conf`), Array.from({ length: 400 }, (_, i) => entry(d * 400 + i)).join(''));
    expect(await thrown(() => loadRegistriesConf(file))).toBe(`${file} and the drop-ins in ${join(dir, 'registries.conf.d')} define more than ${MAX_REGISTRIES} registries (at ${join(dir, 'registries.conf.d', '2.conf')})`);
    // Drop-ins of 1 MiB each, up to 1,000 of them, would be a gigabyte to parse at every change.
    const dir2 = await makeTempDir('adv');
    await mkdir(join(dir2, 'registries.conf.d'));
    await writeFile(join(dir2, 'registries.conf'), '');
    for (let d = 0; d < 6; d++) await writeFile(join(dir2, 'registries.conf.d', `${d}.conf`), padding(1000 * 1000));
    expect(await thrown(() => loadRegistriesConf(join(dir2, 'registries.conf')))).toMatch(`hold more than ${MAX_CONF_TOTAL_BYTES} bytes together (at ${join(dir2, 'registries.conf.d', '4.conf')})`);
  });

  test('hosts directory: its files together are bounded (hosts.toml and PEMs)', async () => {
    const root = await makeTempDir('adv');
    for (let d = 0; d < 6; d++) {
      await mkdir(join(root, `r${d}.example`));
      await writeFile(join(root, `r${d}.example`, 'hosts.toml'), `${padding(1000 * 1000)}[host."https://m.example"]\n`);
    }
    expect(await thrown(() => loadContainerdHosts(root))).toMatch(new RegExp(`^--containerd-hosts-dir ${root}: its files hold more than ${MAX_HOSTS_DIR_BYTES} bytes together \\(at ${root}/r\\d\\.example/hosts\\.toml\\)$`));
  });
});

describe('header values the HTTP client would refuse on every request are refused at load', () => {
  const headerError = (header: string) => {
    try {
      parseHostsToml(`[host."https://m.example"]\nheader = { ${header} }\n`, DIR, FILE);
    } catch (error) {
      expect(error).toBeInstanceOf(NodeConfigError);
      return (error as Error).message;
    }
    return 'accepted';
  };
  test.each([
    ['Authorization = "Bearer s3cret\\u20ac"', 'Authorization holds a character an HTTP header cannot carry'],
    ['X-Token = "s3cret\\u0001"', 'X-Token holds a character an HTTP header cannot carry'],
    ['X-Token = ["ok", "s3cret\\u007f"]', 'X-Token holds a character an HTTP header cannot carry'],
    ['Transfer-Encoding = "chunked"', "Transfer-Encoding is the HTTP client's to set"],
    ['Content-Length = "5"', "Content-Length is the HTTP client's to set"],
    ['Host = "other.example"', "Host is the HTTP client's to set"],
    ['Expect = "100-continue"', "Expect is the HTTP client's to set"],
  ])('%s', (header, problem) => {
    const message = headerError(header);
    expect(message).toBe(`${FILE}: [host."https://m.example"]: header ${problem}${problem.includes('carry') ? ' (a control character, or one past U+00FF)' : ', not hosts.toml\'s'}`);
    expect(message).not.toContain('s3cret');
  });
  test('Latin-1, tabs and inner spaces are sent as they are', () => {
    expect(headerError('X-A = "caf\\u00e9\\tb c"')).toBe('accepted');
  });
});

describe('a CA bundle named by many hosts', () => {
  test('is parsed once per reading, not once per host naming it (CPU of 64 namings vs 1)', async () => {
    const bundle = await readFile('/etc/ssl/certs/ca-certificates.crt', 'utf8');
    const dirWith = async (namings: number) => {
      const root = await makeTempDir('adv');
      await writeFile(join(root, 'ca.crt'), bundle);
      // 4 registry directories of 16 hosts: the most namings of one file the bounds allow per 4 directories.
      for (let d = 0; d < Math.ceil(namings / 16); d++) {
        await mkdir(join(root, `r${d}.example`));
        const hosts = Array.from({ length: Math.min(16, namings - d * 16) }, (_, h) => `[host."https://m${h}.example"]\nca = "${root}/ca.crt"\n`);
        await writeFile(join(root, `r${d}.example`, 'hosts.toml'), hosts.join(''));
      }
      return root;
    };
    const cpuOf = async (root: string) => {
      let best = Infinity;
      for (let i = 0; i < 3; i++) {
        const start = process.cpuUsage();
        await loadContainerdHosts(root);
        const used = process.cpuUsage(start);
        best = Math.min(best, used.user + used.system);
      }
      return best;
    };
    const [one, many] = [await dirWith(1), await dirWith(64)];
    await cpuOf(one); // warm up
    // Parsed per naming this is ~64×; parsed once, the rest is listing and TOML.
    expect((await cpuOf(many)) / (await cpuOf(one))).toBeLessThan(10);
  });
});

describe('hosts configured alike share one TLS object (one TLS context in the transport)', () => {
  test('the same CA file and client pair in two directories and two hosts', async () => {
    const pki = await createPki();
    const root = await makeTempDir('adv');
    const host = (name: string) => `[host."https://${name}"]\nca = "${pki.caCertFile}"\nclient = [["${pki.serverCertFile}", "${pki.serverKeyFile}"]]\n`;
    for (const dir of ['a.example', 'b.example']) {
      await mkdir(join(root, dir));
      await writeFile(join(root, dir, 'hosts.toml'), `${host('m1.example')}${host('m2.example')}[host."https://m3.example"]\nca = "${pki.caCertFile}"\n`);
    }
    const { places } = await loadContainerdHosts(root);
    const [a, b] = ['a.example/x:1', 'b.example/y:1'].map((image) => tlsOf(places.plan(parseImageReference(image))));
    expect(a?.[0]?.clientCertPem).toContain('BEGIN CERTIFICATE');
    expect(new Set([...a!.slice(0, 2), ...b!.slice(0, 2)]).size).toBe(1);
    // Only a CA: another setting, another object, the same in both directories.
    expect(a?.[2]).not.toBe(a?.[0]);
    expect(b?.[2]).toBe(a?.[2]);
  });
});

describe('headers: what each image and each request carries', () => {
  const withHeaders = (count: number, value = 'v', nameLength = 10) =>
    `[host."https://m.example"]\nheader = { ${Array.from({ length: count }, (_, i) => `X-${'n'.repeat(nameLength)}${i} = "${value}"`).join(', ')} }\n`;

  test(`${MAX_HEADERS} headers of ${MAX_HEADER_BYTES} bytes in all are read; more are errors naming the host`, () => {
    expect(loaded(withHeaders(MAX_HEADERS))[0]?.headers).toHaveProperty(`X-${'n'.repeat(10)}${MAX_HEADERS - 1}`, 'v');
    expect(() => loaded(withHeaders(2000))).toThrow(`${FILE}: [host."https://m.example"]: 2000 headers; at most ${MAX_HEADERS} are read`);
    expect(() => loaded(withHeaders(2, 'x'.repeat(MAX_HEADER_BYTES)))).toThrow(`${FILE}: [host."https://m.example"]: its headers hold more than ${MAX_HEADER_BYTES} bytes (sent with every request)`);
  });

  test("the cache key of each image does not grow with the header names (16 hosts of 2,000 headers made each image's key 527 KB)", () => {
    const names = (length: number) => `[host."https://m.example"]\nheader = { ${Array.from({ length: MAX_HEADERS }, (_, i) => `X-${String(i).padEnd(length, 'n')} = "v"`).join(', ')} }\n`;
    const keyOf = (text: string) => {
      const endpoint = containerdHostsPlaces(new Map([['_default', loaded(text)]])).plan(parseImageReference('r.example/a:1')).sources[0]?.endpoint;
      return endpointKey(endpoint!);
    };
    const [short, long] = [keyOf(names(4)), keyOf(names(200))];
    expect(long.length).toBe(short.length);
    expect(long).not.toBe(short); // other names, another key
    expect(long.length).toBeLessThan(200);
  });
});
