/**
 * The admission.k8s.io/v1 AdmissionReview the API server sends a validating webhook, and the answer
 * it expects: what of the request is read (uid, kind, resource, operation, namespace, the object and
 * the old one), which of the object's containers introduce or change an image, and the response.
 * Pure; the body was bounded before it was parsed (admission.ts). Anything not shaped like a review
 * is a ReviewError, answered 400: the API server then applies the webhook's failurePolicy (Ignore).
 */
import type { ContainerImage, Workload, WorkloadObject } from '../../kubernetes/workloads.js';
import { jsonShapeExceeds } from '../../utils/json-shape.js';
import { isRecord, quoted, stringOf } from '../../utils/untrusted.js';

export class ReviewError extends Error {
  override readonly name = 'ReviewError';
}

export interface GroupVersionResource {
  readonly group: string;
  readonly version: string;
  readonly resource: string;
}

export interface AdmissionRequest {
  readonly uid: string;
  /** `Deployment`, or a custom resource's kind. */
  readonly kind: string;
  readonly resource: GroupVersionResource;
  /** `status`, `scale`…: a subresource carries no new pod template to check. */
  readonly subResource: string | undefined;
  readonly operation: string;
  readonly namespace: string;
  readonly name: string;
  readonly object: WorkloadObject | undefined;
  readonly oldObject: WorkloadObject | undefined;
}

/** A uid as the API server makes them (a UUID); anything else is not answered as a review. */
const UID = /^[A-Za-z0-9-]{1,64}$/;
/** DNS names, kinds and versions are far shorter; the bound keeps messages and labels small. */
const MAX_NAME_CHARS = 253;

/**
 * Far deeper than any Kubernetes object (a pod template is some 15 levels; Go's decoder stops at 10,000).
 */
export const MAX_REVIEW_DEPTH = 1000;
/**
 * Objects and arrays in one review: a 3 MiB object dense with managedFields' `{}` has some 150,000,
 * and an UPDATE carries the old one too. Each costs the heap some 65 bytes parsed: 8 MiB of `{},`
 * unbounded would be 2.8 million of them, 190 MB.
 */
export const MAX_REVIEW_COLLECTIONS = 500_000;

/** The review in `text`, or a ReviewError saying what is wrong (never quoting more than a little of it). */
export function parseReview(text: string): AdmissionRequest {
  const exceeds = jsonShapeExceeds(text, { maxDepth: MAX_REVIEW_DEPTH, maxCollections: MAX_REVIEW_COLLECTIONS });
  if (exceeds === 'depth') throw new ReviewError(`nested more than ${MAX_REVIEW_DEPTH} levels deep`);
  if (exceeds === 'collections') throw new ReviewError(`more than ${MAX_REVIEW_COLLECTIONS} objects and arrays`);
  let review: unknown;
  try {
    review = JSON.parse(text);
  } catch (error) {
    throw new ReviewError(`not JSON: ${(error as Error).message.slice(0, 100)}`);
  }
  if (!isRecord(review)) throw new ReviewError('not a JSON object');
  if (review['apiVersion'] !== 'admission.k8s.io/v1' || review['kind'] !== 'AdmissionReview') {
    throw new ReviewError(`expected apiVersion admission.k8s.io/v1, kind AdmissionReview (admissionReviewVersions: ["v1"]), got ${quoted(String(review['apiVersion']), 60)} ${quoted(String(review['kind']), 60)}`);
  }
  const request = review['request'];
  if (!isRecord(request)) throw new ReviewError('no request');
  const uid = stringOf(request['uid']);
  if (uid === undefined || !UID.test(uid)) throw new ReviewError('request.uid missing or malformed');
  const kind = isRecord(request['kind']) ? name(request['kind']['kind']) : '';
  const resource = isRecord(request['resource']) ? request['resource'] : {};
  return {
    uid,
    kind,
    resource: { group: name(resource['group']), version: name(resource['version']), resource: name(resource['resource']) },
    subResource: stringOf(request['subResource']) || undefined,
    operation: name(request['operation']),
    namespace: name(request['namespace']),
    name: name(request['name']),
    object: objectOf(request['object']),
    oldObject: objectOf(request['oldObject']),
  };
}

function name(value: unknown): string {
  const text = stringOf(value) ?? '';
  return text.length > MAX_NAME_CHARS ? text.slice(0, MAX_NAME_CHARS) : text;
}

function objectOf(value: unknown): WorkloadObject | undefined {
  return isRecord(value) ? (value as WorkloadObject) : undefined;
}

/**
 * The object as its workload's reader expects it: on CREATE the API server may not have written the
 * namespace (and, with generateName, the name) into the object yet; the request has them.
 */
export function withRequestNames(object: WorkloadObject, request: AdmissionRequest): WorkloadObject {
  const metadata = isRecord(object.metadata) ? object.metadata : {};
  return {
    ...object,
    metadata: { ...metadata, namespace: request.namespace || stringOf(metadata.namespace), name: stringOf(metadata.name) || request.name || undefined },
  };
}

/**
 * The containers (and image volumes) whose image the object introduces or changes: on UPDATE,
 * those whose image the old object did not use anywhere (a scale, a label or a status change
 * checks nothing; a rename of a container with the same image neither).
 */
export function introduced(workload: Workload, old: Workload | undefined): ContainerImage[] {
  if (!old) return [...workload.containers];
  const before = new Set(old.containers.map((c) => c.image));
  return workload.containers.filter((c) => !before.has(c.image));
}

export interface ReviewAnswer {
  readonly allowed: boolean;
  readonly warnings: readonly string[];
  /** Why it is refused (allowed false), shown by kubectl after "denied the request: ". */
  readonly message?: string;
}

/** The AdmissionReview the API server expects back (same apiVersion, the request's uid). */
export function reviewResponse(uid: string, answer: ReviewAnswer): string {
  const response: Record<string, unknown> = { uid, allowed: answer.allowed };
  if (answer.warnings.length > 0) response['warnings'] = answer.warnings;
  if (!answer.allowed) response['status'] = { code: 403, reason: 'Forbidden', message: answer.message ?? 'denied' };
  return JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response });
}
