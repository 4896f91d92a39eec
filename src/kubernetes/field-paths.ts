/**
 * Field paths into an object, as --workload-resource names them: dot-separated field names, each
 * optionally followed by `[*]` (every item of an array), e.g. `spec.templates[*].sidecars[*]`.
 * Where images live in a custom kind that has no pod template (Argo Workflows, Experiments,
 * KubeVirt's kernel boot container): a path names objects with an `image` (a container, named by
 * its `name`) or image strings.
 *
 * Pure. Paths are parsed once, bounded in length and steps; evaluation reads untrusted objects
 * (API objects, manifests) with a walk that visits each value at most once per path, so it is
 * linear in the object, and never throws, whatever the object's shape.
 */
import { isRecord, quoted } from '../utils/untrusted.js';

/** One step of a path: a field of an object, or every item of an array. */
export type PathStep = { readonly field: string } | { readonly each: true };

export interface FieldPath {
  /** As written (for messages and help). */
  readonly text: string;
  readonly steps: readonly PathStep[];
}

/** Bounds of one path: real CRD paths have under 15 steps. */
export const MAX_PATH_STEPS = 32;
export const MAX_PATH_CHARS = 256;

const FIELD = /^[A-Za-z0-9_-]+$/;

/** `a.b[*].c`: throws the problem (for the flag's error), quoting the path. */
export function parseFieldPath(text: string): FieldPath {
  const shown = quoted(text, 100);
  if (text.length > MAX_PATH_CHARS) throw new Error(`path ${shown} is longer than ${MAX_PATH_CHARS} characters`);
  if (text === '') throw new Error('a path is empty');
  const steps: PathStep[] = [];
  for (const part of text.split('.')) {
    // `templates[*][*]`: the field name, then any number of `[*]`.
    const match = /^([^[\]]*)((?:\[\*\])*)$/.exec(part);
    const field = match?.[1] ?? '';
    if (!match || !FIELD.test(field)) {
      throw new Error(`path ${shown}: expected field names (letters, digits, "_", "-") separated by dots, each optionally followed by [*]`);
    }
    steps.push({ field });
    for (let i = 0; i < (match[2] as string).length / 3; i++) steps.push({ each: true });
  }
  if (steps.length > MAX_PATH_STEPS) throw new Error(`path ${shown} has more than ${MAX_PATH_STEPS} steps`);
  return { text, steps };
}

/** An image found at a path: the container's name (or where it was found) and the image string. */
export interface FoundImage {
  /** The object's non-empty `name`; else the path with indices, e.g. `spec.templates[2].container`. */
  readonly name: string;
  /** As written; '' for an empty string (checked later, reported as a bad reference). */
  readonly image: string;
  /** Found below a field named `initContainers`. */
  readonly init: boolean;
}

/** A value reached by a path, with the steps taken (for its name when it has none). */
interface Reached {
  readonly value: unknown;
  /** Indices taken at each `[*]` so far, in order. */
  readonly indices: readonly number[];
}

/**
 * What each path reaches in `object`: an image string, or an object whose `image` is a string;
 * anything else (missing fields, other types, objects without an image) is passed over.
 */
export function imagesAt(object: unknown, paths: readonly FieldPath[]): FoundImage[] {
  const found: FoundImage[] = [];
  for (const path of paths) {
    let reached: Reached[] = [{ value: object, indices: [] }];
    for (const step of path.steps) {
      const next: Reached[] = [];
      for (const { value, indices } of reached) {
        if ('field' in step) {
          if (isRecord(value) && Object.hasOwn(value, step.field)) next.push({ value: value[step.field], indices });
        } else if (Array.isArray(value)) {
          for (let i = 0; i < value.length; i++) next.push({ value: value[i], indices: [...indices, i] });
        }
      }
      reached = next;
      if (reached.length === 0) break;
    }
    const init = path.steps.some((step) => 'field' in step && step.field === 'initContainers');
    for (const { value, indices } of reached) {
      if (typeof value === 'string') found.push({ name: concretePath(path, indices), image: value, init });
      else if (isRecord(value) && typeof value['image'] === 'string') {
        const name = value['name'];
        found.push({ name: typeof name === 'string' && name !== '' ? name : concretePath(path, indices), image: value['image'], init });
      }
    }
  }
  return found;
}

/** The path with the indices taken: `spec.templates[2].container`. */
function concretePath(path: FieldPath, indices: readonly number[]): string {
  let text = '';
  let taken = 0;
  for (const step of path.steps) {
    if ('field' in step) text += text === '' ? step.field : `.${step.field}`;
    else text += `[${indices[taken++] ?? '*'}]`;
  }
  return text;
}
