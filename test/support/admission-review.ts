/** AdmissionReviews of a Deployment as the API server writes them, for the webhook's tests. */
import { randomUUID } from 'node:crypto';

/** The review of `object` (a Deployment with metadata.name and metadata.namespace); a CREATE unless said. */
export function reviewOf(object: object, options: { operation?: 'CREATE' | 'UPDATE'; oldObject?: object; namespace?: string } = {}): string {
  const meta = (object as { metadata: { name: string; namespace: string } }).metadata;
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: randomUUID(),
      kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
      resource: { group: 'apps', version: 'v1', resource: 'deployments' },
      requestKind: { group: 'apps', version: 'v1', kind: 'Deployment' },
      name: meta.name,
      namespace: options.namespace ?? meta.namespace,
      operation: options.operation ?? 'CREATE',
      userInfo: { username: 'alice' },
      object,
      oldObject: options.oldObject ?? null,
      dryRun: false,
    },
  });
}
