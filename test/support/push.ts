/**
 * Pushes small but well-formed images into a RunningRegistry through the Registry HTTP API
 * (no Docker engine): blobs via POST+PUT uploads, then the manifest.
 */
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { Agent, request } from 'undici';
import type { PushAuth, RunningRegistry } from './registry.js';

/** 'oci-artifact': an OCI manifest with an artifactType, the empty config (`{}`) and one non-image layer, as `oras push` makes. */
export type ImageKind = 'docker' | 'oci' | 'docker-list' | 'oci-index' | 'oci-artifact';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface PushOptions {
  /** Lists/indexes: one child per platform (default linux/amd64, linux/arm64). Single images use the first. */
  platforms?: Platform[];
}

export interface PushedImage {
  /** Digest of the top-level manifest (sha256 of the exact bytes PUT). */
  digest: string;
  mediaType: string;
  /** Digests of the per-platform manifests of a list/index; [] for single images. */
  childDigests: string[];
  /** Byte size of the top-level manifest. */
  size: number;
}

export const MEDIA_TYPES = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

/** Accept header naming all four manifest types, as an existence checker sends it. */
export const MANIFEST_ACCEPT = [
  MEDIA_TYPES.ociIndex,
  MEDIA_TYPES.ociManifest,
  MEDIA_TYPES.dockerList,
  MEDIA_TYPES.dockerManifest,
].join(', ');

const DEFAULT_PLATFORMS: Platform[] = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64' },
];

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
}

export function sha256Digest(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** One-file ustar archive: real enough for any tool that unpacks it, unique per call. */
function tinyTar(): Buffer {
  const content = Buffer.from(`${randomBytes(16).toString('hex')}\n`);
  const header = Buffer.alloc(512);
  const put = (offset: number, length: number, value: string): void => {
    header.write(value.slice(0, length), offset, 'ascii');
  };
  const octal = (n: number, width: number): string => `${n.toString(8).padStart(width - 1, '0')}\0`;
  put(0, 100, `payload-${randomBytes(4).toString('hex')}.txt`);
  put(100, 8, octal(0o644, 8));
  put(108, 8, octal(0, 8));
  put(116, 8, octal(0, 8));
  put(124, 12, octal(content.length, 12));
  put(136, 12, octal(Math.floor(Date.now() / 1000), 12));
  put(148, 8, '        '); // checksum is computed with its own field as spaces
  put(156, 1, '0');
  put(257, 6, 'ustar\0');
  put(263, 2, '00');
  let sum = 0;
  for (const byte of header) sum += byte;
  put(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, padding, Buffer.alloc(1024)]);
}

/** Talks to one registry for one operation; close() releases its connections. */
class RegistryClient {
  private readonly agent: Agent;

  constructor(
    private readonly reg: RunningRegistry,
    private readonly repository: string,
  ) {
    this.agent = new Agent(reg.ca ? { connect: { ca: reg.ca } } : {});
  }

  close(): Promise<void> {
    return this.agent.close();
  }

  private authorization(auth: PushAuth): string | undefined {
    switch (auth.kind) {
      case 'anonymous':
        return undefined;
      case 'basic':
        return `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
      case 'token':
        // Minted directly, bypassing the issuer's grant policy (which may deny this repo on purpose).
        return `Bearer ${auth.issuer.mintToken('test-pusher', [
          { type: 'repository', name: this.repository, actions: ['pull', 'push', 'delete'] },
        ])}`;
    }
  }

  async send(
    method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE',
    url: string,
    expected: number[],
    body?: Buffer,
    contentType?: string,
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
    const headers: Record<string, string> = {};
    const authorization = this.authorization(this.reg.pushAuth);
    if (authorization) headers['authorization'] = authorization;
    if (contentType) headers['content-type'] = contentType;
    if (body) headers['content-length'] = String(body.length);
    const res = await request(url, { method, headers, body, dispatcher: this.agent });
    const text = await res.body.text();
    if (!expected.includes(res.statusCode)) {
      throw new Error(`${method} ${url} -> ${res.statusCode}, expected ${expected.join('|')}: ${text}`);
    }
    return { status: res.statusCode, headers: res.headers };
  }

  private api(path: string): string {
    return `${this.reg.url}/v2/${this.repository}/${path}`;
  }

  async pushBlob(data: Buffer): Promise<string> {
    const digest = sha256Digest(data);
    const started = await this.send('POST', this.api('blobs/uploads/'), [202]);
    const location = started.headers['location'];
    if (typeof location !== 'string') throw new Error('blob upload started without a Location header');
    // Location may be relative or absolute, and already carries the upload state as a query.
    const target = new URL(location, this.reg.url).toString();
    const sep = target.includes('?') ? '&' : '?';
    await this.send('PUT', `${target}${sep}digest=${encodeURIComponent(digest)}`, [201], data, 'application/octet-stream');
    return digest;
  }

  async putManifest(reference: string, mediaType: string, bytes: Buffer): Promise<string> {
    const digest = sha256Digest(bytes);
    const res = await this.send('PUT', this.api(`manifests/${reference}`), [201], bytes, mediaType);
    const echoed = res.headers['docker-content-digest'];
    if (echoed !== undefined && echoed !== digest) {
      throw new Error(`registry stored ${mediaType} as ${String(echoed)}, expected ${digest}`);
    }
    return digest;
  }

  async deleteManifest(digest: string): Promise<void> {
    await this.send('DELETE', this.api(`manifests/${digest}`), [202]);
  }
}

function manifestBytes(value: object): Buffer {
  return Buffer.from(JSON.stringify(value, null, 2));
}

/** Pushes config + layer blobs and returns the (not yet pushed) single-image manifest bytes. */
async function buildSingle(client: RegistryClient, oci: boolean, platform: Platform): Promise<Buffer> {
  const tar = tinyTar();
  const layer = gzipSync(tar);
  const created = new Date().toISOString();
  const config = manifestBytes({
    created,
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    rootfs: { type: 'layers', diff_ids: [sha256Digest(tar)] },
    history: [{ created, created_by: 'k8s-image-existence-exporter test push' }],
  });
  const [configDigest, layerDigest] = await Promise.all([client.pushBlob(config), client.pushBlob(layer)]);
  return manifestBytes({
    schemaVersion: 2,
    mediaType: oci ? MEDIA_TYPES.ociManifest : MEDIA_TYPES.dockerManifest,
    config: {
      mediaType: oci ? MEDIA_TYPES.ociConfig : MEDIA_TYPES.dockerConfig,
      digest: configDigest,
      size: config.length,
    },
    layers: [
      { mediaType: oci ? MEDIA_TYPES.ociLayer : MEDIA_TYPES.dockerLayer, digest: layerDigest, size: layer.length },
    ],
  });
}

async function push(
  reg: RunningRegistry,
  repository: string,
  tag: string | undefined,
  kind: ImageKind,
  opts: PushOptions,
): Promise<PushedImage> {
  const platforms = opts.platforms ?? DEFAULT_PLATFORMS;
  const client = new RegistryClient(reg, repository);
  try {
    if (kind === 'oci-artifact') {
      const config = Buffer.from('{}');
      const file = Buffer.from(`model weights for ${repository}:${tag ?? ''} ${Date.now()}\n`);
      const [configDigest, fileDigest] = await Promise.all([client.pushBlob(config), client.pushBlob(file)]);
      const bytes = manifestBytes({
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociManifest,
        artifactType: 'application/vnd.example.models.v1',
        config: { mediaType: MEDIA_TYPES.ociEmpty, digest: configDigest, size: config.length },
        layers: [{ mediaType: 'application/vnd.example.models.layer.v1', digest: fileDigest, size: file.length, annotations: { 'org.opencontainers.image.title': 'weights.bin' } }],
      });
      const digest = await client.putManifest(tag ?? sha256Digest(bytes), MEDIA_TYPES.ociManifest, bytes);
      return { digest, mediaType: MEDIA_TYPES.ociManifest, childDigests: [], size: bytes.length };
    }
    if (kind === 'docker' || kind === 'oci') {
      const oci = kind === 'oci';
      const mediaType = oci ? MEDIA_TYPES.ociManifest : MEDIA_TYPES.dockerManifest;
      const bytes = await buildSingle(client, oci, platforms[0] ?? { os: 'linux', architecture: 'amd64' });
      const digest = await client.putManifest(tag ?? sha256Digest(bytes), mediaType, bytes);
      return { digest, mediaType, childDigests: [], size: bytes.length };
    }

    const oci = kind === 'oci-index';
    const childType = oci ? MEDIA_TYPES.ociManifest : MEDIA_TYPES.dockerManifest;
    const mediaType = oci ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.dockerList;
    // Children first and by digest only, as `docker buildx` does: the list must reference existing manifests.
    const children: Descriptor[] = await Promise.all(
      platforms.map(async (platform) => {
        const bytes = await buildSingle(client, oci, platform);
        const digest = await client.putManifest(sha256Digest(bytes), childType, bytes);
        return { mediaType: childType, digest, size: bytes.length, platform };
      }),
    );
    const bytes = manifestBytes({ schemaVersion: 2, mediaType, manifests: children });
    const digest = await client.putManifest(tag ?? sha256Digest(bytes), mediaType, bytes);
    return { digest, mediaType, childDigests: children.map((c) => c.digest), size: bytes.length };
  } finally {
    await client.close();
  }
}

/** Pushes a fresh, unique image of `kind` and tags it `tag`. */
export function pushImage(
  reg: RunningRegistry,
  repository: string,
  tag: string,
  kind: ImageKind,
  opts: PushOptions = {},
): Promise<PushedImage> {
  return push(reg, repository, tag, kind, opts);
}

/** Pushes a fresh image reachable only as `repository@digest` (no tag points at it). */
export function pushManifestByDigestOnly(
  reg: RunningRegistry,
  repository: string,
  kind: ImageKind = 'docker',
  opts: PushOptions = {},
): Promise<PushedImage> {
  return push(reg, repository, undefined, kind, opts);
}

/**
 * Deletes a manifest by digest, as a retention policy would. The registry also drops every tag
 * pointing at it; the children of a list stay (delete them separately if needed).
 */
export async function deleteManifest(reg: RunningRegistry, repository: string, digest: string): Promise<void> {
  const client = new RegistryClient(reg, repository);
  try {
    await client.deleteManifest(digest);
  } finally {
    await client.close();
  }
}
