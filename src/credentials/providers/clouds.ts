/** The built-in cloud credential providers, by the names --cloud-credentials takes. */
export const CLOUDS = ['ecr', 'gcp', 'acr'] as const;
export type Cloud = (typeof CLOUDS)[number];

/** `auto` (each where its identity is present), `none`, or the clouds named. */
export type CloudChoice = 'auto' | 'none' | readonly Cloud[];

/** --cloud-credentials: `auto`, `none` or a comma list of clouds. Throws the problem, for the flag's error. */
export function parseCloudChoice(text: string): CloudChoice {
  const value = text.trim();
  if (value === 'auto' || value === 'none') return value;
  const names = value.split(',').map((name) => name.trim()).filter((name) => name !== '');
  const unknown = names.find((name) => !(CLOUDS as readonly string[]).includes(name));
  if (unknown !== undefined || names.length === 0) throw new Error(`must be auto, none or a comma list of ${CLOUDS.join(', ')}, got ${JSON.stringify(value.slice(0, 100))}`);
  return [...new Set(names)] as Cloud[];
}
