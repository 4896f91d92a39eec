/** Why a manifest cannot be read: its source, the line when known, and the problem in our words. */
export class ManifestError extends Error {
  override readonly name = 'ManifestError';

  constructor(
    readonly source: string,
    readonly line: number | undefined,
    problem: string,
  ) {
    super(line === undefined ? `${source}: ${problem}` : `${source}:${line}: ${problem}`);
  }
}
