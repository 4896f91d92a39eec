/** Reading one manifest text in unit tests: its contents, or the ManifestError it fails with. */
import { ManifestError, readManifests, type ManifestContents } from '../../src/check/manifests.js';

export function readText(text: string, name = 'file.yaml'): ManifestContents {
  return readManifests([{ name, text }]);
}

/** The ManifestError a text fails with (the test fails if it reads, or fails otherwise). */
export function manifestFailure(text: string, name = 'file.yaml'): ManifestError {
  try {
    readText(text, name);
  } catch (error) {
    if (error instanceof ManifestError) return error;
    throw error;
  }
  throw new Error('expected a ManifestError');
}
