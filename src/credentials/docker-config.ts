/**
 * Reading docker config documents: `.dockerconfigjson` (`{"auths": {...}}`), legacy `.dockercfg`
 * (the auths map itself) and a docker `config.json`. Pure: text in, entries or an error out.
 */
import { isRecord } from '../utils/untrusted.js';

/** One registry key of a docker config with its username and password. */
export interface DockerConfigEntry {
  /** The key as written (`https://index.docker.io/v1/`, `*.example.com`, `registry:5000/team`, …). */
  readonly key: string;
  readonly username: string;
  readonly password: string;
}

export class DockerConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DockerConfigError';
  }
}

interface AuthEntry {
  auth?: unknown;
  username?: unknown;
  password?: unknown;
}

function entryFrom(key: string, value: AuthEntry): DockerConfigEntry | undefined {
  if (typeof value.auth === 'string' && value.auth !== '') {
    const decoded = Buffer.from(value.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    // The error names the key only: the decoded value is a secret.
    if (colon <= 0) throw new DockerConfigError(`entry "${key}" has an "auth" field that is not base64 of user:password`);
    return { key, username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (typeof value.username === 'string' && typeof value.password === 'string' && value.username !== '') {
    return { key, username: value.username, password: value.password };
  }
  // Entries with only an identity token or credential helper: nothing we can use.
  return undefined;
}

/** Parses a docker config; `legacy` is the `.dockercfg` format whose top level is the auths map. */
export function parseDockerConfig(text: string, format: 'dockerconfigjson' | 'dockercfg'): DockerConfigEntry[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new DockerConfigError('is not valid JSON');
  }
  if (!isRecord(parsed)) throw new DockerConfigError('is not a JSON object');
  const auths = format === 'dockerconfigjson' ? parsed['auths'] : parsed;
  if (auths === undefined) return [];
  if (!isRecord(auths)) throw new DockerConfigError('has an "auths" that is not an object');
  const entries: DockerConfigEntry[] = [];
  for (const [key, value] of Object.entries(auths)) {
    if (!value || typeof value !== 'object') throw new DockerConfigError(`entry "${key}" is not an object`);
    const entry = entryFrom(key, value as AuthEntry);
    if (entry) entries.push(entry);
  }
  return entries;
}

/**
 * The config names credential helpers (`credsStore`, `credHelpers`, as Docker Desktop writes): the
 * credentials they keep are not in the file. Text that is not a JSON object names none.
 */
export function namesCredentialHelpers(text: string): boolean {
  try {
    const parsed = JSON.parse(text) as { credsStore?: unknown; credHelpers?: unknown } | null;
    return Boolean(parsed?.credsStore || parsed?.credHelpers);
  } catch {
    return false;
  }
}
