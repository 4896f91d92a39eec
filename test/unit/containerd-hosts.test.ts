/**
 * containerd's hosts directory as containerd 1.6/1.7 read it (remotes/docker/config/hosts.go,
 * config_unix.go, resolver.go): the parser, the plans, and the bounded loader on real files.
 */
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import type { PullPlan, PullSource } from '../../src/image/pull-plan.js';
import { parseImageReference } from '../../src/image/reference.js';
import {
  CAPABILITY_PULL,
  MAX_HOSTS,
  CAPABILITY_PUSH,
  CAPABILITY_RESOLVE,
  certFileHosts,
  containerdHostsPlaces,
  hostDirCandidates,
  isLocalhost,
  parseHostsToml,
  planFromHosts,
  type HostConfig,
  type LoadedHost,
} from '../../src/node-config/containerd-hosts.js';
import { loadContainerdHosts, MAX_ENTRIES } from '../../src/node-config/containerd-hosts-load.js';
import { NodeConfigError } from '../../src/node-config/node-config-error.js';
import { createPki, type Pki } from '../support/pki.js';
import { makeTempDir } from '../support/tmp.js';

const ALL = CAPABILITY_PULL | CAPABILITY_RESOLVE | CAPABILITY_PUSH;
const FILE = '/etc/containerd/certs.d/docker.io/hosts.toml';
const DIR = '/etc/containerd/certs.d/docker.io';
const parse = (text: string) => parseHostsToml(text, DIR, FILE);
const loaded = (hosts: readonly HostConfig[]): LoadedHost[] => hosts.map((h) => ({ ...h, caPems: h.caFiles.map((f) => `PEM of ${f}`), client: undefined }));
const sourcesOf = (plan: PullPlan): readonly PullSource[] => {
  if (plan.blocked !== undefined) throw new Error(`blocked: ${plan.blocked}`);
  return plan.sources;
};
const where = (plan: PullPlan) => sourcesOf(plan).map((s) => (s.endpoint ? `${s.endpoint.scheme}://${s.endpoint.host}${s.endpoint.apiPath}` : `default ${s.ref.registry}`));
const errorOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(NodeConfigError);
    return (error as Error).message;
  }
  throw new Error('no error');
};

describe('the directory containerd picks', () => {
  test('host:port is tried as host_port_ first, then as written, then _default', () => {
    expect(hostDirCandidates('registry.example.com:5000')).toEqual(['registry.example.com_5000_', 'registry.example.com:5000', '_default']);
    expect(hostDirCandidates('docker.io')).toEqual(['docker.io', '_default']);
    expect(hostDirCandidates('[::1]:5000')).toEqual(['[::1]_5000_', '[::1]:5000', '_default']);
  });

  test('the first candidate that exists wins; no directory and no _default is the registry as without a hosts directory', () => {
    const mirror = (host: string) => loaded(parse(`[host."https://${host}"]\n`)!);
    const places = containerdHostsPlaces(
      new Map([
        ['r.example:5000', mirror('colon.example')],
        ['r.example_5000_', mirror('underscore.example')],
      ]),
    );
    expect(where(places.plan(parseImageReference('r.example:5000/a:1')))).toEqual(['https://underscore.example/v2', 'default r.example:5000']);
    const ref = parseImageReference('other.example/a:1');
    expect(places.plan(ref)).toEqual({ sources: [{ ref, authoritative: true }] });
    const withDefault = containerdHostsPlaces(new Map([['_default', mirror('everyone.example')]]));
    expect(where(withDefault.plan(ref))).toEqual(['https://everyone.example/v2', 'default other.example']);
  });
});

describe('hosts.toml', () => {
  test("the containerd docs' example: hosts in file order, server last, relative files under the directory", () => {
    const hosts = parse(
      [
        'server = "https://registry-1.docker.io"',
        '[host."https://public-mirror.gcr.io"]',
        '  capabilities = ["pull"]',
        '[host."https://docker-mirror.internal"]',
        '  capabilities = ["pull", "resolve"]',
        '  ca = "docker-mirror.crt"',
        '[host."https://a-first.example"]',
      ].join('\n'),
    )!;
    expect(hosts.map((h) => [h.scheme, h.host, h.path, h.capabilities])).toEqual([
      ['https', 'public-mirror.gcr.io', '/v2', CAPABILITY_PULL],
      ['https', 'docker-mirror.internal', '/v2', CAPABILITY_PULL | CAPABILITY_RESOLVE],
      ['https', 'a-first.example', '/v2', ALL],
      ['https', 'registry-1.docker.io', '/v2', ALL],
    ]);
    expect(hosts[1]?.caFiles).toEqual([`${DIR}/docker-mirror.crt`]);
  });

  test('scheme: https unless http:// is written; a path gets /v2 unless it ends with it or override_path', () => {
    const hosts = parse(
      [
        '[host."mirror.example:5000"]',
        '[host."http://plain.example:5000"]',
        '[host."https://m.example/path"]',
        '[host."https://m.example/path/v2/"]',
        '[host."https://m.example/a/../b/"]',
        '[host."https://m.example/custom"]',
        '  override_path = true',
        '[host."https://m.example"]',
        '  override_path = true',
      ].join('\n'),
    )!;
    expect(hosts.slice(0, -1).map((h) => `${h.scheme}://${h.host} ${h.path}`)).toEqual([
      'https://mirror.example:5000 /v2',
      'http://plain.example:5000 /v2',
      'https://m.example /path/v2',
      'https://m.example /path/v2',
      'https://m.example /b/v2',
      'https://m.example /custom',
      'https://m.example ',
    ]);
  });

  test('capabilities: none or [] is all three, names in any case; anything else is an error naming the file', () => {
    const [a, b, c] = parse('[host."a"]\n[host."b"]\ncapabilities = []\n[host."c"]\ncapabilities = ["PULL", "Resolve"]\n')!;
    expect([a?.capabilities, b?.capabilities, c?.capabilities]).toEqual([ALL, ALL, CAPABILITY_PULL | CAPABILITY_RESOLVE]);
    expect(errorOf(() => parse('[host."a"]\ncapabilities = "pull"\n'))).toBe(`${FILE}: [host."a"]: capabilities must be an array such as ["pull", "resolve"], got string "pull"`);
    expect(errorOf(() => parse('[host."a"]\ncapabilities = ["pull", "fetch"]\n'))).toContain('unknown capability "fetch"');
    expect(errorOf(() => parse('[host."a"]\ncapabilities = [1]\n'))).toContain('capabilities must hold strings');
  });

  test('ca: a file or an array; client: a file, files, or [certificate, key] pairs; absolute paths kept', () => {
    const [a, b] = parse(
      [
        '[host."a"]',
        '  ca = ["/etc/ssl/one.pem", "two.pem"]',
        '  client = [["c.cert", "/keys/c.key"], "both.pem"]',
        '[host."b"]',
        '  ca = "ca.pem"',
        '  client = "client.pem"',
      ].join('\n'),
    )!;
    expect(a?.caFiles).toEqual(['/etc/ssl/one.pem', `${DIR}/two.pem`]);
    expect(a?.clientPairs).toEqual([[`${DIR}/c.cert`, '/keys/c.key'], [`${DIR}/both.pem`, undefined]]);
    expect(b?.caFiles).toEqual([`${DIR}/ca.pem`]);
    expect(b?.clientPairs).toEqual([[`${DIR}/client.pem`, undefined]]);
    expect(errorOf(() => parse('[host."a"]\nca = 5\n'))).toBe(`${FILE}: [host."a"]: ca must be a file or an array of files, got number "5"`);
    expect(errorOf(() => parse('[host."a"]\nclient = [["a", "b", "c"]]\n'))).toContain('client must be a file, or an array of files or of [certificate, key] pairs');
    expect(errorOf(() => parse('[host."a"]\nclient = {cert = "a"}\n'))).toContain('client must be');
  });

  test('header: a string or an array (sent as one field); skip_verify and override_path must be booleans', () => {
    const [a] = parse('[host."a"]\n  skip_verify = true\n  [host."a".header]\n    x-custom = "1"\n    x-list = ["a", "b"]\n')!;
    expect(a?.headers).toEqual({ 'x-custom': '1', 'x-list': 'a, b' });
    expect(a?.skipVerify).toBe(true);
    expect(errorOf(() => parse('[host."a"]\nheader = {x = 1}\n'))).toContain('header x must be a string or an array of strings');
    expect(errorOf(() => parse('[host."a"]\nheader = {x = "a\\nb"}\n'))).toContain('header x holds a line break');
    expect(errorOf(() => parse('[host."a"]\nheader = {"bad name" = "v"}\n'))).toContain('is not a valid HTTP header name');
    expect(errorOf(() => parse('[host."a"]\nskip_verify = "yes"\n'))).toContain('skip_verify must be true or false');
    expect(errorOf(() => parse('[host."a"]\noverride_path = 1\n'))).toContain('override_path must be true or false');
  });

  test('unknown keys are ignored, as go-toml does; bad host names, server types and tables are errors', () => {
    expect(parse('mirrors = ["x"]\n[host."a"]\n  username = "u"\n')?.map((h) => h.host)).toEqual(['a', '']);
    expect(errorOf(() => parse('server = 5\n[host."a"]\n'))).toContain('server must be a URL string');
    expect(errorOf(() => parse('host = "a"\n'))).toContain('host must hold tables');
    expect(errorOf(() => parse('[host]\na = 1\n'))).toContain('[host."a"] must be a table');
    expect(errorOf(() => parse('[host."ftp://a"]\n'))).toContain('is not a registry URL');
    expect(errorOf(() => parse('[host."https://"]\n'))).toContain('is not a registry URL');
    expect(errorOf(() => parse('[host."http-cache.internal:5000"]\n'))).toBe(
      `${FILE}: [host."http-cache.internal:5000"] "http-cache.internal:5000" is not a registry URL such as https://mirror.example.com:5000/path (containerd reads a name starting with "http" as a URL: write https:// before it)`,
    );
  });

  test('TOML errors (duplicate tables too) name the file, line and column', () => {
    expect(errorOf(() => parse('[host."a"]\n[host."a"]\n'))).toMatch(new RegExp(`^${FILE}:2:\\d+: invalid TOML: `));
    expect(errorOf(() => parse('server = \n'))).toMatch(new RegExp(`^${FILE}:1:\\d+: invalid TOML`));
    // A header may hold a token: no error quotes the text around the mistake.
    for (const text of ['[host."a".header]\nauthorization = "Bearer s3cr3t\n', '[host."a".header]\nauthorization = Bearer-s3cr3t\n', '[host."a".header]\nauthorization = ["Bearer s3cr3t", 5]\n']) {
      expect(errorOf(() => parse(text))).not.toContain('s3cr3t');
    }
  });

  test('no [host] table: containerd 1.6/1.7 ignore the file (undefined), whatever else it says', () => {
    expect(parse('server = "https://mirror.example"\nca = "x.crt"\n')).toBeUndefined();
    expect(parse('')).toBeUndefined();
  });

  test('without a usable hosts.toml: Docker-style *.crt CAs and *.cert/*.key pairs, for the default endpoint', () => {
    const [host] = certFileHosts('/d', ['z.crt', 'a.crt', 'client.cert', 'client.key', 'lone.cert', 'notes.txt']);
    expect(host).toMatchObject({ host: '', capabilities: ALL, caFiles: ['/d/a.crt', '/d/z.crt'], clientPairs: [['/d/client.cert', '/d/client.key'], ['/d/lone.cert', undefined]] });
  });

  test(`${MAX_HOSTS} hosts kept in order; one more is an error naming the file (each image's plan holds every host)`, () => {
    const text = (n: number) => Array.from({ length: n }, (_, i) => `[host."https://m${i}.example"]\ncapabilities = ["pull", "resolve"]\n`).join('');
    const hosts = parse(text(MAX_HOSTS))!;
    expect(hosts.map((h) => h.host)).toEqual([...Array.from({ length: MAX_HOSTS }, (_, i) => `m${i}.example`), '']);
    expect(errorOf(() => parse(text(20_000)))).toBe(`${FILE}: 20000 [host."…"] tables; at most ${MAX_HOSTS} are read (each is asked in turn for every image)`);
  });
});

describe('plans', () => {
  const hub = (image: string) => parseImageReference(image);
  const plan = (text: string, image: string) => planFromHosts(hub(image), loaded(parse(text) ?? certFileHosts(DIR, [])), 'docker.io');

  test('docker.io without server: mirrors with ?ns=docker.io and their own name for credentials, then Docker Hub as without a hosts directory', () => {
    const sources = sourcesOf(plan('[host."https://mirror.example"]\n', 'nginx'));
    expect(sources).toEqual([
      { ref: expect.objectContaining({ registry: 'mirror.example', repository: 'library/nginx', tag: 'latest' }), authoritative: false, endpoint: { scheme: 'https', host: 'mirror.example', apiPath: '/v2', query: { ns: 'docker.io' } } },
      { ref: hub('nginx'), authoritative: true },
    ]);
  });

  test('a server that is the registry itself is matched by its name and gets no ns; another server does', () => {
    const own = sourcesOf(plan('server = "https://registry-1.docker.io"\n[host."m"]\n', 'nginx'));
    expect(own.at(-1)).toMatchObject({ ref: { registry: 'docker.io' }, authoritative: true, endpoint: { host: 'registry-1.docker.io' } });
    expect(own.at(-1)?.endpoint?.query).toBeUndefined();
    const other = sourcesOf(plan('server = "https://hub-cache.internal/hub"\n[host."m"]\n', 'nginx'));
    expect(other.at(-1)).toMatchObject({ ref: { registry: 'hub-cache.internal' }, endpoint: { apiPath: '/hub/v2', query: { ns: 'docker.io' } } });
  });

  test('a tag needs pull and resolve; a digest only pull; nothing left is blocked, never absent', () => {
    const text = '[host."pull-only.example"]\ncapabilities = ["pull"]\n[host."both.example"]\ncapabilities = ["pull", "resolve"]\n';
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(where(plan(text, 'nginx:1'))).toEqual(['https://both.example/v2', 'default docker.io']);
    expect(where(plan(text, `nginx@${digest}`))).toEqual(['https://pull-only.example/v2', 'https://both.example/v2', 'default docker.io']);
    const onlyPull = plan('server = "https://hub.example"\ncapabilities = ["pull"]\n[host."m"]\ncapabilities = ["push"]\n', 'nginx:1');
    expect(onlyPull).toEqual({ sources: [], blocked: 'no host in the hosts directory docker.io has the capabilities "pull" and "resolve" this image needs' });
  });

  test('the last place tried has the last word, and only it', () => {
    const sources = sourcesOf(plan('server = "https://s.example"\ncapabilities = ["push"]\n[host."a"]\n[host."b"]\n', 'nginx'));
    expect(sources.map((s) => [s.ref.registry, s.authoritative])).toEqual([
      ['a', false],
      ['b', true],
    ]);
  });

  test("the default server keeps the file's top-level ca, skip_verify and header; a loopback registry is plain HTTP without verification", () => {
    const sources = sourcesOf(plan('ca = "/ca.pem"\nskip_verify = false\n[header]\nx-a = "1"\n[host."m"]\n', 'nginx'));
    expect(sources.at(-1)).toEqual({ ref: hub('nginx'), authoritative: true, endpoint: { scheme: 'https', host: 'registry-1.docker.io', apiPath: '/v2', tls: { caPems: ['PEM of /ca.pem'] }, headers: { 'x-a': '1' } } });
    const local = parseImageReference('127.0.0.1:5000/app:1');
    const localPlan = planFromHosts(local, loaded(certFileHosts('/d', [])), '127.0.0.1_5000_');
    expect(localPlan).toEqual({ sources: [{ ref: local, authoritative: true, endpoint: { scheme: 'http', host: '127.0.0.1:5000', apiPath: '/v2', tls: { skipVerify: true } } }] });
    expect(['localhost', 'localhost:5000', '127.1.2.3:80', '[::1]:5000', '::1', '0:0:0:0:0:0:0:1'].every(isLocalhost)).toBe(true);
    expect(['localhost.example', '128.0.0.1', '[::2]'].some(isLocalhost)).toBe(false);
  });

  test("override_path's root is used as written, `/` being the root itself", () => {
    expect(where(plan('[host."https://m/"]\noverride_path = true\n', 'nginx'))[0]).toBe('https://m');
    expect(where(plan('[host."https://m/v1/api"]\noverride_path = true\n', 'nginx'))[0]).toBe('https://m/v1/api');
  });
});

describe('loading a hosts directory', () => {
  let pki: Pki;
  let other: Pki;
  beforeAll(async () => {
    [pki, other] = await Promise.all([createPki(), createPki()]);
  });

  async function tree(files: Record<string, string>): Promise<string> {
    const root = await makeTempDir('hosts');
    for (const [path, text] of Object.entries(files)) {
      await mkdir(join(root, path, '..'), { recursive: true });
      await writeFile(join(root, path), text);
    }
    return root;
  }

  test('reads each directory, its hosts.toml and the PEMs it names; lists every path it read', async () => {
    const ca = await readFile(pki.caCertFile, 'utf8');
    const cert = await readFile(pki.serverCertFile, 'utf8');
    const key = await readFile(pki.serverKeyFile, 'utf8');
    const root = await tree({
      'docker.io/hosts.toml': `[host."https://mirror.example"]\n  ca = "ca.crt"\n  client = [["client.cert", "client.key"]]\n`,
      'docker.io/ca.crt': ca,
      'docker.io/client.cert': cert,
      'docker.io/client.key': key,
      'plain.example_5000_/ca.crt': ca,
      'plain.example_5000_/notes.txt': 'not read',
    });
    const { places, files } = await loadContainerdHosts(root);
    expect([...files].sort()).toEqual(
      [root, `${root}/docker.io`, `${root}/docker.io/hosts.toml`, `${root}/docker.io/ca.crt`, `${root}/docker.io/client.cert`, `${root}/docker.io/client.key`, `${root}/plain.example_5000_`, `${root}/plain.example_5000_/ca.crt`].sort(),
    );
    const [mirror] = sourcesOf(places.plan(parseImageReference('nginx')));
    expect(mirror?.endpoint?.tls).toEqual({ caPems: [ca.trim()], clientCertPem: cert.trim(), clientKeyPem: key.trim() });
    const [plain] = sourcesOf(places.plan(parseImageReference('plain.example:5000/a:1')));
    expect(plain?.endpoint).toEqual({ scheme: 'https', host: 'plain.example:5000', apiPath: '/v2', tls: { caPems: [ca.trim()] } });
  });

  test('a symbolic link to a directory counts, as os.Stat follows it', async () => {
    const root = await tree({ 'real/hosts.toml': '[host."https://m.example"]\n' });
    await symlink(join(root, 'real'), join(root, 'docker.io'));
    const { places } = await loadContainerdHosts(root);
    expect(where(places.plan(parseImageReference('nginx')))).toEqual(['https://m.example/v2', 'default docker.io']);
  });

  test('a missing, non-PEM or foreign file is an error naming the hosts.toml and the file', async () => {
    const toml = (extra: string) => ({ 'r.example/hosts.toml': `[host."https://m.example"]\n${extra}\n` });
    const failure = async (files: Record<string, string>) => {
      const root = await tree(files);
      const error = await loadContainerdHosts(root).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(NodeConfigError);
      return { message: (error as Error).message, root };
    };
    let { message, root } = await failure(toml('ca = "missing.crt"'));
    expect(message).toBe(`${root}/r.example/hosts.toml: cannot read ${root}/r.example/missing.crt: ENOENT`);
    ({ message, root } = await failure({ ...toml('ca = "ca.crt"'), 'r.example/ca.crt': 'not a certificate' }));
    expect(message).toBe(`${root}/r.example/hosts.toml: CA file ${root}/r.example/ca.crt holds no PEM certificate`);
    const key = await readFile(other.serverKeyFile, 'utf8');
    const cert = await readFile(pki.serverCertFile, 'utf8');
    ({ message, root } = await failure({ ...toml('client = ["c.cert", "c.key"]'), 'r.example/c.cert': cert, 'r.example/c.key': key }));
    expect(message).toContain(`client key ${root}/r.example/c.cert holds no PEM private key`);
    ({ message, root } = await failure({ ...toml('client = [["c.cert", "c.key"]]'), 'r.example/c.cert': cert, 'r.example/c.key': key }));
    expect(message).toBe(`${root}/r.example/hosts.toml: client key ${root}/r.example/c.key does not belong to the certificate ${root}/r.example/c.cert`);
    ({ message, root } = await failure({ 'r.example/hosts.toml': '[host."a"]\n[host."a"]\n' }));
    expect(message).toMatch(new RegExp(`^${root}/r.example/hosts.toml:2:\\d+: invalid TOML`));
  });

  test('bounded: a file over 1 MiB, more than 1,000 directories, a missing root', async () => {
    let root = await tree({ 'r.example/hosts.toml': `# ${'x'.repeat(1024 * 1024)}\n[host."a"]\n` });
    await expect(loadContainerdHosts(root)).rejects.toThrow(`${root}/r.example/hosts.toml is larger than 1048576 bytes`);
    root = await tree({});
    await Promise.all(Array.from({ length: MAX_ENTRIES + 1 }, (_, i) => mkdir(join(root, `r${i}.example`))));
    await expect(loadContainerdHosts(root)).rejects.toThrow(`--containerd-hosts-dir ${root} holds more than 1000 entries`);
    await expect(loadContainerdHosts(join(root, 'nope'))).rejects.toThrow(`--containerd-hosts-dir ${root}/nope does not exist`);
  });
});
