/**
 * The error of an unusable credential-provider plugin configuration, in a module of its own: start-up
 * recognizes it without loading the plugins' modules (and zod), which only a run with plugins needs.
 */
/** The config is unusable; the message names the file, the provider and the field. */
export class PluginConfigError extends Error {
  override readonly name = 'PluginConfigError';
  constructor(
    message: string,
    /** The field at fault, e.g. `providers[1].matchImages`. */
    readonly field?: string,
    /** The name of the provider at fault, when it has one. */
    readonly provider?: string,
  ) {
    super(message);
  }
}
