/**
 * --web-config-file end to end: the exporter (in-process, and as a process for start-up errors)
 * serving HTTPS with certificates made by the test, basic auth with bcrypt hashes (bcryptjs' and
 * htpasswd's), client certificates per client_auth_type, reloading the file while running, and a
 * real Prometheus scraping it with scheme https, tls_config and basic_auth. Neither a password nor
 * a hash ever shows up in a log line or a scrape.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import bcrypt from 'bcryptjs';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createCa, issueCert, type IssuedCert } from '../support/client-cert.js';
import { PREFIX, startExporter, type RunningExporter } from '../support/exporter.js';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { createPki, type Pki } from '../support/pki.js';
import { startPrometheus, type RunningPrometheus } from '../support/prometheus.js';
import { startExporterProcess } from '../support/process.js';
import { makeTempDir } from '../support/tmp.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const PASSWORD = 'correct horse battery staple ☃';
const NEW_PASSWORD = 'Tr0ub4dor&3-rotated';
const HTPASSWD_PASSWORD = 'htpasswd-pässword';
const HASH = bcrypt.hashSync(PASSWORD, 4);
const NEW_HASH = bcrypt.hashSync(NEW_PASSWORD, 4);
let htpasswdHash = '';

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The serial number of the server certificate (HTTPS). */
  readonly serial: string | undefined;
}

interface RequestOptions {
  readonly scheme?: 'https' | 'http';
  readonly ca?: string;
  readonly cert?: IssuedCert;
  readonly user?: string;
  readonly password?: string;
  readonly authorization?: string;
}

/** One request on a new connection (no agent: each one does its own TLS handshake). */
function get(port: number, path: string, options: RequestOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (options.authorization !== undefined) headers.authorization = options.authorization;
  else if (options.password !== undefined) headers.authorization = `Basic ${Buffer.from(`${options.user ?? 'alice'}:${options.password}`).toString('base64')}`;
  return new Promise((resolve, reject) => {
    const common = { host: '127.0.0.1', port, path, headers, agent: false as const, timeout: 10_000 };
    const req =
      options.scheme === 'http'
        ? httpRequest(common)
        : httpsRequest({ ...common, ca: options.ca, ...(options.cert ? { cert: options.cert.certPem, key: options.cert.keyPem } : {}) });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.on('response', (res) => {
      const serial = options.scheme === 'http' ? undefined : (res.socket as TLSSocket).getPeerCertificate().serialNumber;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, serial }));
      res.on('error', reject);
    });
    req.end();
  });
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, ms: number): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return { value, ms: Date.now() - started };
    if (Date.now() - started > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(100);
  }
}

/** Writes a file the way kubelet updates a mounted Secret: a new file renamed over the old one. */
async function replaceFile(path: string, content: string): Promise<void> {
  await writeFile(`${path}.tmp`, content);
  await rename(`${path}.tmp`, path);
}

const portOf = (exporter: RunningExporter) => Number(new URL(exporter.url).port);

let pki: Pki;
let client: IssuedCert;
let foreignClient: IssuedCert;
let kube: KubeApi;
let caPem: string;
const exporters: RunningExporter[] = [];

async function start(dir: string, config: string): Promise<RunningExporter> {
  await writeFile(join(dir, 'web.yml'), config);
  const exporter = await startExporter(kube.kubeconfigPath, [`--web-config-file=${join(dir, 'web.yml')}`]);
  exporters.push(exporter);
  return exporter;
}

/** A directory with the server certificate and key under tls/, and the CA. */
async function webDir(): Promise<string> {
  const dir = await makeTempDir('web');
  await mkdir(join(dir, 'tls'));
  await copyFile(pki.serverCertFile, join(dir, 'tls/server.crt'));
  await copyFile(pki.serverKeyFile, join(dir, 'tls/server.key'));
  await copyFile(pki.caCertFile, join(dir, 'tls/ca.crt'));
  return dir;
}

beforeAll(async () => {
  pki = await createPki();
  caPem = pki.caCertPem;
  const other = await createCa();
  [client, foreignClient] = await Promise.all([issueCert(pki, 'client', { usage: 'client' }), issueCert(other, 'client', { usage: 'client' })]);
  const { stdout } = await run('htpasswd', ['-nbBC', '4', 'carol', HTPASSWD_PASSWORD]);
  htpasswdHash = stdout.trim().split(':')[1] as string;
  kube = await startKubeApi();
}, 60_000);

afterAll(async () => {
  await Promise.all(exporters.map((e) => e.stop()));
  await kube?.stop();
});

function leakCheck(texts: readonly string[]): void {
  const all = texts.join('\n');
  for (const secret of [PASSWORD, NEW_PASSWORD, HTPASSWD_PASSWORD, HASH, NEW_HASH, htpasswdHash]) {
    expect(all).not.toContain(secret);
    expect(all).not.toContain(JSON.stringify(secret).slice(1, -1));
  }
  expect(all).not.toMatch(/\$2[aby]\$\d\d\$/);
  expect(all).not.toContain('PRIVATE KEY');
}

describe('HTTPS with basic auth', () => {
  let dir: string;
  let exporter: RunningExporter;
  let port: number;
  const seen: string[] = [];
  const config = (hash: string) =>
    [
      'tls_server_config:',
      '  cert_file: tls/server.crt # relative to this file',
      '  key_file: tls/server.key',
      'http_server_config:',
      '  headers:',
      '    X-Content-Type-Options: nosniff',
      'basic_auth_users:',
      `  alice: ${hash}`,
      `  carol: ${htpasswdHash}`,
      '',
    ].join('\n');

  beforeAll(async () => {
    dir = await webDir();
    exporter = await start(dir, config(HASH));
    port = portOf(exporter);
  });

  test('HTTPS with the CA and the right password: 200 with metrics', async () => {
    const answer = await get(port, '/metrics', { ca: caPem, password: PASSWORD });
    seen.push(answer.body);
    expect(answer.status).toBe(200);
    expect(answer.body).toContain(`${PREFIX}_`);
    expect(answer.headers['x-content-type-options']).toBe('nosniff');
  });

  test('a $2y$ hash written by htpasswd', async () => {
    expect(htpasswdHash).toMatch(/^\$2y\$04\$/);
    expect((await get(port, '/metrics', { ca: caPem, user: 'carol', password: HTPASSWD_PASSWORD })).status).toBe(200);
    expect((await get(port, '/metrics', { ca: caPem, user: 'carol', password: PASSWORD })).status).toBe(401);
  });

  test('no credentials, a wrong password, an unknown user, a malformed header: 401 with WWW-Authenticate', async () => {
    for (const options of [{}, { password: 'wrong' }, { user: 'mallory', password: PASSWORD }, { authorization: 'Basic !!!' }, { authorization: 'Bearer x' }]) {
      const answer = await get(port, '/metrics', { ca: caPem, ...options });
      seen.push(answer.body);
      expect(answer.status, JSON.stringify(options)).toBe(401);
      expect(answer.headers['www-authenticate']).toBe('Basic realm="k8s-image-existence-exporter"');
      expect(answer.body).not.toContain(PREFIX);
    }
    expect((await get(port, '/', { ca: caPem })).status).toBe(401);
  });

  test('/healthz answers without credentials (kubelet probes)', async () => {
    const answer = await get(port, '/healthz', { ca: caPem });
    expect(answer.status).toBe(200);
    expect(answer.body).toBe('ok\n');
    expect((await get(port, '/healthz?x=1', { ca: caPem })).status).toBe(200);
    expect((await get(port, '/healthzz', { ca: caPem })).status).toBe(401);
    expect((await get(port, '/healthz/../metrics', { ca: caPem })).status).toBe(401);
  });

  test('plain HTTP to the port fails; a client without the CA refuses the certificate', async () => {
    await expect(get(port, '/healthz', { scheme: 'http' })).rejects.toThrow();
    await expect(get(port, '/healthz', {})).rejects.toThrow(/self[- ]signed|unable to (get|verify)/i);
  });

  test('reload: a new password hash takes effect without a restart', async () => {
    await writeFile(join(dir, 'web.yml'), config(NEW_HASH)); // in place, not atomically
    const { ms } = await eventually(
      'the new password to work',
      async () => ((await get(port, '/metrics', { ca: caPem, password: NEW_PASSWORD })).status === 200 ? true : undefined),
      5000,
    );
    expect(ms).toBeLessThan(3000);
    expect((await get(port, '/metrics', { ca: caPem, password: PASSWORD })).status).toBe(401);
    expect(exporter.logs.some((l) => l.includes('"msg":"web config reloaded"'))).toBe(true);
  });

  test('reload: a replaced certificate is served on new connections', async () => {
    const before = (await get(port, '/healthz', { ca: caPem })).serial;
    const renewed = await issueCert(pki, 'server-renewed', { usage: 'server' });
    expect(renewed.certPem).not.toBe(await readFile(join(dir, 'tls/server.crt'), 'utf8'));
    await replaceFile(join(dir, 'tls/server.crt'), renewed.certPem);
    await replaceFile(join(dir, 'tls/server.key'), renewed.keyPem);
    const { value: serial, ms } = await eventually(
      'the new certificate',
      async () => {
        const { serial } = await get(port, '/healthz', { ca: caPem });
        return serial !== before ? serial : undefined;
      },
      5000,
    );
    expect(ms).toBeLessThan(3000);
    expect(serial?.toLowerCase()).toBe(new X509Certificate(renewed.certPem).serialNumber.toLowerCase());
    expect((await get(port, '/metrics', { ca: caPem, password: NEW_PASSWORD })).status).toBe(200);
  });

  test('reload: a broken edit is logged and the previous config stays in force', async () => {
    const errorsBefore = exporter.logs.filter((l) => l.includes('web config not reloaded')).length;
    await writeFile(join(dir, 'web.yml'), `${config(NEW_HASH)}basic_auth_users_typo: {}\n`);
    const { value: line } = await eventually(
      'the error to be logged',
      async () => exporter.logs.filter((l) => l.includes('web config not reloaded'))[errorsBefore],
      5000,
    );
    const logged = JSON.parse(line) as Record<string, string>;
    expect(logged.level).toBe('error');
    expect(logged.reason).toContain('unknown key "basic_auth_users_typo"');
    expect((await get(port, '/metrics', { ca: caPem, password: NEW_PASSWORD })).status).toBe(200);
    expect((await get(port, '/metrics', { ca: caPem })).status).toBe(401);

    // A bad hash, and a certificate file that disappears: refused the same way.
    await writeFile(join(dir, 'web.yml'), config('not-a-hash'));
    await eventually('the bad hash to be refused', async () => exporter.logs.find((l) => l.includes('is not a bcrypt hash')), 5000);
    expect((await get(port, '/metrics', { ca: caPem, password: NEW_PASSWORD })).status).toBe(200);

    // Switching HTTPS off, or basic auth off, needs a restart: a half-written file must not open the port.
    await writeFile(join(dir, 'web.yml'), '');
    await eventually('the emptied file to be refused', async () => exporter.logs.find((l) => l.includes('switching from HTTPS to HTTP needs a restart')), 5000);
    await writeFile(join(dir, 'web.yml'), 'tls_server_config:\n  cert_file: tls/server.crt\n  key_file: tls/server.key\n');
    await eventually('dropping the users to be refused', async () => exporter.logs.find((l) => l.includes('turning basic auth off needs a restart')), 5000);
    expect((await get(port, '/metrics', { ca: caPem })).status).toBe(401);
    expect((await get(port, '/metrics', { ca: caPem, password: NEW_PASSWORD })).status).toBe(200);

    // Fixed again: applied.
    await writeFile(join(dir, 'web.yml'), config(HASH));
    await eventually('the fixed file', async () => ((await get(port, '/metrics', { ca: caPem, password: PASSWORD })).status === 200 ? true : undefined), 5000);
  });

  test('no password or hash in any log line or answer', async () => {
    seen.push((await get(port, '/metrics', { ca: caPem, password: PASSWORD })).body);
    leakCheck([...exporter.logs, ...seen]);
  });
});

describe('client certificates', () => {
  const tls = (clientAuth: string, extra = '') =>
    `tls_server_config:\n  cert_file: tls/server.crt\n  key_file: tls/server.key\n  client_auth_type: ${clientAuth}\n${extra}`;
  const outcome = async (port: number, cert: IssuedCert | undefined): Promise<string> => {
    try {
      return String((await get(port, '/metrics', { ca: caPem, ...(cert ? { cert } : {}) })).status);
    } catch (error) {
      return 'refused';
    }
  };

  test.each([
    // client_auth_type, client_ca_file, no certificate, certificate of another CA, certificate of the CA
    ['RequireAndVerifyClientCert', true, 'refused', 'refused', '200'],
    ['VerifyClientCertIfGiven', true, '200', 'refused', '200'],
    ['RequireAnyClientCert', false, 'refused', '200', '200'],
    ['RequestClientCert', false, '200', '200', '200'],
    ['NoClientCert', false, '200', '200', '200'],
  ])('%s (CA %s): none %s, foreign %s, ours %s', async (clientAuth, withCa, none, foreign, ours) => {
    const dir = await webDir();
    const exporter = await start(dir, tls(clientAuth, withCa ? '  client_ca_file: tls/ca.crt\n' : ''));
    const port = portOf(exporter);
    expect([await outcome(port, undefined), await outcome(port, foreignClient), await outcome(port, client)]).toEqual([none, foreign, ours]);
    // The TLS layer refuses before HTTP: /healthz too.
    if (none === 'refused') await expect(get(port, '/healthz', { ca: caPem })).rejects.toThrow();
  });

  test('client_allowed_sans, and a reload that changes them', async () => {
    const dir = await webDir();
    const exporter = await start(dir, tls('RequireAndVerifyClientCert', '  client_ca_file: tls/ca.crt\n  client_allowed_sans: [grafana.monitoring.svc]\n'));
    const port = portOf(exporter);
    expect(await outcome(port, client)).toBe('refused');
    await writeFile(join(dir, 'web.yml'), tls('RequireAndVerifyClientCert', '  client_ca_file: tls/ca.crt\n  client_allowed_sans: [prometheus.monitoring.svc]\n'));
    await eventually('the new SAN list', async () => ((await outcome(port, client)) === '200' ? true : undefined), 5000);
    expect(await outcome(port, foreignClient)).toBe('refused');
  });

  test('a reload from NoClientCert to RequireAndVerifyClientCert', async () => {
    const dir = await webDir();
    const exporter = await start(dir, tls('NoClientCert'));
    const port = portOf(exporter);
    expect(await outcome(port, undefined)).toBe('200');
    await writeFile(join(dir, 'web.yml'), tls('RequireAndVerifyClientCert', '  client_ca_file: tls/ca.crt\n'));
    await eventually('client certificates to be required', async () => ((await outcome(port, undefined)) === 'refused' ? true : undefined), 5000);
    expect(await outcome(port, client)).toBe('200');
    expect(exporter.logs.some((l) => l.includes('"msg":"TLS connection refused"') && l.includes('no client certificate'))).toBe(true);
  });
});

describe('plain HTTP with basic auth and a rate limit', () => {
  test('401 without credentials, 200 with, /healthz neither limited nor protected, 429 past the burst', async () => {
    const dir = await makeTempDir('web');
    const exporter = await start(dir, `basic_auth_users:\n  alice: ${HASH}\nrate_limit:\n  interval: 1h\n  burst: 2\n`);
    const port = portOf(exporter);
    expect(exporter.logs.some((l) => l.includes('passwords cross the network in clear text'))).toBe(true);
    expect((await get(port, '/metrics', { scheme: 'http' })).status).toBe(401);
    expect((await get(port, '/metrics', { scheme: 'http', password: PASSWORD })).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await get(port, '/healthz', { scheme: 'http' })).status).toBe(200);
    expect((await get(port, '/metrics', { scheme: 'http', password: PASSWORD })).status).toBe(429);
    leakCheck(exporter.logs);
  });
});

describe('start-up', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await webDir();
  });

  test.concurrent.each([
    ['missing.yml', undefined, 'cannot read the file: ENOENT'],
    ['yaml.yml', 'basic_auth_users:\n  alice: hunter2\n alice2: x\n', 'invalid YAML'],
    ['unknown.yml', 'tls_server_config:\n  certfile: tls/server.crt\n', 'unknown key "certfile"'],
    ['badcert.yml', 'tls_server_config:\n  cert_file: tls/server.key\n  key_file: tls/server.key\n', 'holds no PEM certificate'],
    ['plain.yml', 'basic_auth_users:\n  alice: hunter2\n', 'the password of user "alice" is not a bcrypt hash'],
    ['noca.yml', 'tls_server_config:\n  cert_file: tls/server.crt\n  key_file: tls/server.key\n  client_auth_type: RequireAndVerifyClientCert\n', 'needs client_ca_file'],
  ])('%s: exit 2, one line naming --web-config-file', async (name, text, problem) => {
    const file = join(dir, name);
    if (text !== undefined) await writeFile(file, text);
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', `--web-config-file=${file}`, '--kubeconfig=/nonexistent'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => (child as ChildProcess).once('exit', resolve));
    expect(code).toBe(2);
    expect(stdout).toBe('');
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`invalid flag --web-config-file: ${file}: `);
    expect(lines[0]).toContain(problem);
    expect(stderr).not.toContain('hunter2');
  });

  test('the process serves HTTPS with the file', async () => {
    await writeFile(join(dir, 'good.yml'), `tls_server_config:\n  cert_file: tls/server.crt\n  key_file: tls/server.key\nbasic_auth_users:\n  alice: ${HASH}\n`);
    const exporter = await startExporterProcess([`--kubeconfig=${kube.kubeconfigPath}`, `--web-config-file=${join(dir, 'good.yml')}`]);
    try {
      expect((await get(exporter.port, '/healthz', { ca: caPem })).status).toBe(200);
      expect((await get(exporter.port, '/metrics', { ca: caPem })).status).toBe(401);
      expect((await get(exporter.port, '/metrics', { ca: caPem, password: PASSWORD })).status).toBe(200);
      expect(exporter.stderr()).toContain('"msg":"web config loaded"');
      leakCheck([exporter.stderr()]);
    } finally {
      exporter.kill();
    }
  });
});

describe('Prometheus scraping over HTTPS with basic auth', () => {
  let prometheus: RunningPrometheus | undefined;
  afterAll(async () => {
    await prometheus?.stop();
  });

  test('the shipped job (deploy/prometheus/scrape-config-tls.yaml): up == 1; with a wrong password up == 0', async () => {
    const dir = await webDir();
    // A serving certificate for the name the shipped tls_config verifies (server_name).
    const serving = await issueCert(pki, 'svc', { usage: 'server', san: 'DNS:image-existence-exporter.kube-system.svc' });
    const exporter = await start(
      dir,
      `tls_server_config:\n  cert_file: ${serving.certFile}\n  key_file: ${serving.keyFile}\nbasic_auth_users:\n  prometheus: ${HASH}\n`,
    );
    await writeFile(join(dir, 'password'), PASSWORD);
    const shipped = parseYaml(await readFile(join(ROOT, 'deploy/prometheus/scrape-config-tls.yaml'), 'utf8')) as {
      scrape_configs: Array<Record<string, any>>;
    };
    const [template] = shipped.scrape_configs;
    const job = (name: string, basicAuth: Record<string, string>) => {
      const { kubernetes_sd_configs: _sd, relabel_configs: _relabel, ...rest } = template!;
      return {
        ...rest,
        job_name: name,
        scrape_timeout: '1s',
        tls_config: { ...rest.tls_config, ca_file: join(dir, 'tls/ca.crt') },
        basic_auth: basicAuth,
        static_configs: [{ targets: [`127.0.0.1:${portOf(exporter)}`] }],
      };
    };
    expect(template!.basic_auth.username).toBe('prometheus');
    const running = await startPrometheus(
      stringifyYaml({
        global: { scrape_interval: '1s' },
        scrape_configs: [
          job('right', { ...template!.basic_auth, password_file: join(dir, 'password') }),
          job('wrong', { username: 'prometheus', password: 'not-the-password' }),
        ],
      }),
      { dir },
    );
    prometheus = running;
    const query = async (promql: string): Promise<string | undefined> =>
      (await running.get<{ result: Array<{ value: [number, string] }> }>(`/api/v1/query?query=${encodeURIComponent(promql)}`)).result[0]?.value[1];
    await running.until('the right job to be up', async () => ((await query('up{job="right"}')) === '1' ? true : undefined));
    await running.until('the wrong job to be down', async () => ((await query('up{job="wrong"}')) === '0' ? true : undefined));
    // The exporter's own series made it through.
    expect(Number(await query(`count({job="right",__name__=~"${PREFIX}_.*"})`)), running.output().slice(-3000)).toBeGreaterThan(0);
    leakCheck(exporter.logs);
  }, 60_000);
});

describe('the TLS variants of the deploy files', () => {
  test('the PodMonitor: deploy/prometheus-operator/podmonitor.yaml with scheme https, tlsConfig and basicAuth', async () => {
    const load = async (path: string) => parseYaml(await readFile(join(ROOT, 'deploy/prometheus-operator', path), 'utf8')) as Record<string, any>;
    const [plain, tls] = await Promise.all([load('podmonitor.yaml'), load('tls/podmonitor-tls.yaml')]);
    const endpoint = tls.spec.podMetricsEndpoints[0];
    expect(endpoint.scheme).toBe('https');
    expect(endpoint.tlsConfig).toMatchObject({ ca: { secret: { name: expect.any(String), key: 'ca.crt' } }, serverName: expect.any(String) });
    expect(endpoint.basicAuth).toEqual({
      username: { name: 'image-existence-exporter-scrape-auth', key: 'username' },
      password: { name: 'image-existence-exporter-scrape-auth', key: 'password' },
    });
    const { scheme: _s, tlsConfig: _t, basicAuth: _b, ...rest } = endpoint;
    const { scheme: _plainScheme, ...plainRest } = plain.spec.podMetricsEndpoints[0];
    // Otherwise the same object (same name: it replaces the plain one), so the two cannot drift apart.
    expect({ ...tls, spec: { ...tls.spec, podMetricsEndpoints: [rest] } }).toEqual({ ...plain, spec: { ...plain.spec, podMetricsEndpoints: [plainRest] } });
  });

  test('the scrape config: deploy/prometheus/scrape-config.yaml with scheme https, tls_config and basic_auth', async () => {
    const load = async (path: string) => parseYaml(await readFile(join(ROOT, 'deploy/prometheus', path), 'utf8')) as Record<string, any>;
    const [plain, tls] = await Promise.all([load('scrape-config.yaml'), load('scrape-config-tls.yaml')]);
    const { scheme, tls_config: tlsConfig, basic_auth: basicAuth, ...rest } = tls.scrape_configs[0];
    expect(scheme).toBe('https');
    expect(Object.keys(tlsConfig).sort()).toEqual(['ca_file', 'server_name']);
    expect(Object.keys(basicAuth).sort()).toEqual(['password_file', 'username']);
    const { scheme: _plainScheme, ...plainRest } = plain.scrape_configs[0];
    expect(rest).toEqual(plainRest);
  });
});
