/** What lists against one API server share (src/kubernetes/api-connections.ts). */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { describe, expect, test } from 'vitest';
import { ApiConnections, LISTS_IN_FLIGHT, resourceOf } from '../../src/kubernetes/api-connections.js';

describe('resourceOf', () => {
  test.each([
    ['/apis/apps/v1/namespaces/team-a/deployments', '/apis/apps/v1/deployments'],
    ['/apis/apps/v1/deployments', '/apis/apps/v1/deployments'],
    ['/api/v1/namespaces/team-a/pods?labelSelector=!x', '/api/v1/pods'],
    ['/api/v1/namespaces?labelSelector=a%3Db', '/api/v1/namespaces'],
    ['/api/v1/nodes', '/api/v1/nodes'],
  ])('%s → %s', (path, resource) => expect(resourceOf(path)).toBe(resource));
});

describe('ApiConnections.reuse', () => {
  test('one kept-alive agent while the TLS settings stay the same; a new one when they change', () => {
    const connections = new ApiConnections();
    const first = connections.reuse(new HttpsAgent({ ca: 'CA-1', rejectUnauthorized: true })) as HttpsAgent;
    expect(first).toBeInstanceOf(HttpsAgent);
    expect((first as HttpsAgent & { keepAlive?: boolean }).keepAlive).toBe(true);
    expect(first.maxSockets).toBe(LISTS_IN_FLIGHT + 2);
    expect(connections.reuse(new HttpsAgent({ ca: 'CA-1', rejectUnauthorized: true }))).toBe(first);
    const rotated = connections.reuse(new HttpsAgent({ ca: 'CA-2', rejectUnauthorized: true }));
    expect(rotated).not.toBe(first);
    expect(connections.reuse(new HttpsAgent({ ca: 'CA-2', rejectUnauthorized: false }))).not.toBe(rotated);
    expect(connections.reuse(new HttpAgent())).toBeInstanceOf(HttpAgent);
  });

  test("a proxy's agent (a subclass) is used as it is", () => {
    class ProxyAgent extends HttpsAgent {}
    const proxy = new ProxyAgent();
    expect(new ApiConnections().reuse(proxy)).toBe(proxy);
  });

  test('lists wait their turn past the bound, shared between resources', async () => {
    const connections = new ApiConnections();
    const kinds = ['/apis/apps/v1 deployments', '/apis/apps/v1 statefulsets', '/apis/apps/v1 daemonsets', '/apis/batch/v1 cronjobs', '/apis/batch/v1 jobs', '/api/v1 pods', '/api/v1 serviceaccounts'];
    let running = 0;
    let most = 0;
    const perKind = new Map<string, number>();
    const waiting: Array<() => void> = [];
    const lists = kinds.flatMap((kind) =>
      Array.from({ length: 20 }, (_, i) =>
        connections.runList(kind.replace(' ', `/namespaces/ns-${i}/`), async () => {
          most = Math.max(most, ++running);
          perKind.set(kind, (perKind.get(kind) ?? 0) + 1);
          await new Promise<void>((resolve) => waiting.push(resolve));
          running--;
        }),
      ),
    );
    let done = false;
    void Promise.all(lists).then(() => (done = true));
    while (!done) {
      await new Promise((r) => setImmediate(r));
      // Every kind gets its turn while the others wait.
      if (waiting.length > 0) expect(running).toBeLessThanOrEqual(LISTS_IN_FLIGHT);
      waiting.splice(0).forEach((release) => release());
    }
    expect(most).toBe(LISTS_IN_FLIGHT);
    expect([...perKind.values()]).toEqual(kinds.map(() => 20));
  });
});
