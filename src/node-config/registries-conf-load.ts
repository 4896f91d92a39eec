/**
 * `--registries-conf FILE`: reads the file and the `registries.conf.d` directory beside it (the
 * `*.conf` files directly in it, in lexical order, each merged over what came before), as
 * containers/image's tryUpdatingCache does. Bounded (config-files.ts): a file over 1 MiB, 4 MiB in
 * all, or more than 1,000 drop-ins, is an error.
 */
import { lstat, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { PullPlaces } from '../image/pull-plan.js';
import { MAX_TOTAL_BYTES, ReadBudget, readConfigFile } from './config-files.js';
import { NodeConfigError } from './node-config-error.js';
import { MAX_REGISTRIES, mergeRegistries, parseRegistriesConf, registriesConfPlaces } from './registries-conf.js';

export { MAX_FILE_BYTES as MAX_CONF_BYTES, MAX_TOTAL_BYTES } from './config-files.js';
export const MAX_DROP_INS = 1000;

function errorCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

async function isGone(file: string): Promise<boolean> {
  return lstat(file).then(
    () => false,
    (err: unknown) => errorCode(err) === 'ENOENT',
  );
}

/** The drop-ins, sorted as filepath.WalkDir lists them (byte order); none when the directory is missing. */
async function dropIns(dir: string): Promise<string[]> {
  let names: string[];
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    // Directories are skipped, not entered; anything else named *.conf is read (symlinks included).
    names = entries.filter((e) => !e.isDirectory() && e.name.endsWith('.conf')).map((e) => e.name);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return [];
    throw new NodeConfigError(`${dir}: cannot be listed (${errorCode(err) ?? String(err)})`, { cause: err });
  }
  if (names.length > MAX_DROP_INS) throw new NodeConfigError(`${dir}: more than ${MAX_DROP_INS} drop-in files`);
  return names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))).map((name) => join(dir, name));
}

export async function loadRegistriesConf(file: string): Promise<{ places: PullPlaces; files: readonly string[] }> {
  const dir = join(dirname(file), 'registries.conf.d');
  const budget = new ReadBudget((at) => `${file} and the drop-ins in ${dir} hold more than ${MAX_TOTAL_BYTES} bytes together (at ${at})`);
  const first = budget.take(await readConfigFile(file), file);
  let registries = parseRegistriesConf(first, file);
  const files = [file, dir];
  for (const dropIn of await dropIns(dir)) {
    let text: string;
    try {
      text = await readConfigFile(dropIn);
    } catch (err) {
      // Removed between the listing and the read: containers/image skips it too.
      if (await isGone(dropIn)) continue;
      throw err;
    }
    budget.take(text, dropIn);
    files.push(dropIn);
    registries = mergeRegistries(registries, parseRegistriesConf(text, dropIn, { dropIn: true }));
    if (registries.length > MAX_REGISTRIES) throw new NodeConfigError(`${file} and the drop-ins in ${dir} define more than ${MAX_REGISTRIES} registries (at ${dropIn})`);
  }
  return { places: registriesConfPlaces({ registries }), files };
}
