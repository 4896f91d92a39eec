import { describe, expect, test } from 'vitest';
import { BadReferenceError, manifestReference, parseImageReference } from '../../src/image/reference.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;

describe('parseImageReference', () => {
  test.each([
    ['nginx', 'docker.io', 'library/nginx', 'latest', undefined, 'docker.io/library/nginx:latest'],
    ['nginx:1.25', 'docker.io', 'library/nginx', '1.25', undefined, 'docker.io/library/nginx:1.25'],
    ['bitnami/redis:7', 'docker.io', 'bitnami/redis', '7', undefined, 'docker.io/bitnami/redis:7'],
    ['docker.io/nginx', 'docker.io', 'library/nginx', 'latest', undefined, 'docker.io/library/nginx:latest'],
    ['index.docker.io/library/nginx:1', 'docker.io', 'library/nginx', '1', undefined, 'docker.io/library/nginx:1'],
    ['registry-1.docker.io/nginx', 'docker.io', 'library/nginx', 'latest', undefined, 'docker.io/library/nginx:latest'],
    ['ghcr.io/org/team/app:v1.2.3', 'ghcr.io', 'org/team/app', 'v1.2.3', undefined, 'ghcr.io/org/team/app:v1.2.3'],
    ['localhost/app', 'localhost', 'app', 'latest', undefined, 'localhost/app:latest'],
    ['localhost:5000/app:dev', 'localhost:5000', 'app', 'dev', undefined, 'localhost:5000/app:dev'],
    ['127.0.0.1:5000/a/b', '127.0.0.1:5000', 'a/b', 'latest', undefined, '127.0.0.1:5000/a/b:latest'],
    ['[::1]:5000/app:1', '[::1]:5000', 'app', '1', undefined, '[::1]:5000/app:1'],
    [`quay.io/app@${DIGEST}`, 'quay.io', 'app', undefined, DIGEST, `quay.io/app@${DIGEST}`],
    [`quay.io/app:1@${DIGEST}`, 'quay.io', 'app', '1', DIGEST, `quay.io/app:1@${DIGEST}`],
    ['Registry/app', 'Registry', 'app', 'latest', undefined, 'Registry/app:latest'],
    ['a__b/c.d-e', 'docker.io', 'a__b/c.d-e', 'latest', undefined, 'docker.io/a__b/c.d-e:latest'],
  ])('%s', (image, registry, repository, tag, digest, canonical) => {
    const ref = parseImageReference(image);
    expect(ref).toEqual({ original: image, registry, repository, tag, digest, canonical });
  });

  test.each([
    [' nginx', 'whitespace'],
    ['nginx latest', 'whitespace'],
    ['docker.io/Library/nginx', 'lowercase'],
    ['nginx:', 'malformed tag'],
    ['nginx:-bad', 'malformed tag'],
    [`nginx:${'x'.repeat(129)}`, 'malformed tag'],
    ['nginx@sha256:abc', 'malformed digest'],
    [`nginx@sha256:${'A'.repeat(64)}`, 'sha256 digest'],
    // go-digest knows three algorithms and their lengths: the kubelet refuses anything else.
    [`r.example/a@foo:${'a'.repeat(10_000)}`, 'unsupported digest algorithm "foo"'],
    [`nginx@sha512:${'a'.repeat(64)}`, 'sha512 digest must be 128'],
    [`nginx@sha384:${'a'.repeat(97)}`, 'sha384 digest must be 96'],
    ['registry.example.com:99999/app', 'registry host'],
    ['-bad.example.com/app', 'registry host'],
    ['app//x', 'path component'],
    ['docker.io/', 'path component'],
    [':tag', 'missing repository'],
    [`example.com/${'a'.repeat(300)}`, 'longer than'],
  ])('rejects %#', (image, reason) => {
    expect(() => parseImageReference(image)).toThrow(BadReferenceError);
    expect(() => parseImageReference(image)).toThrow(reason);
  });

  test('a container without an image says "no image", not an invalid reference ""', () => {
    expect(() => parseImageReference('')).toThrow(BadReferenceError);
    expect(() => parseImageReference('')).toThrow(/^no image: the container names none \(its image field is missing or empty\)$/);
  });

  test('the message quotes a bounded part of a long reference (it is kept per container)', () => {
    for (const image of [`example.com/${'a'.repeat(10_000)}`, `r.example/a@foo:${'a'.repeat(10_000)}`, `a b${'c'.repeat(10_000)}`]) {
      const error = (() => {
        try {
          parseImageReference(image);
        } catch (e) {
          return e as Error;
        }
        throw new Error('accepted');
      })();
      expect(error).toBeInstanceOf(BadReferenceError);
      expect(error.message.length).toBeLessThanOrEqual(1100);
      expect(error.message).toContain('cut,');
    }
  });

  test('a pinned digest wins over the tag when asking the registry', () => {
    expect(manifestReference(parseImageReference(`app:1@${DIGEST}`))).toBe(DIGEST);
    expect(manifestReference(parseImageReference('app:1'))).toBe('1');
    expect(manifestReference(parseImageReference('app'))).toBe('latest');
  });
});
