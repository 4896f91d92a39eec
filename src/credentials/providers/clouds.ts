/** The built-in cloud credential providers, by the names --cloud-credentials takes. */
export const CLOUDS = ['ecr', 'gcp', 'acr'] as const;
export type Cloud = (typeof CLOUDS)[number];

/** `auto` (each where its identity is present), `none`, or the clouds named. */
export type CloudChoice = 'auto' | 'none' | readonly Cloud[];
