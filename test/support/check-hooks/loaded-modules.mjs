/**
 * Preloaded into a process (node --import, after tsx) by test/integration/check-startup.test.ts:
 * appends the URL of every module the process loads — ES modules, and CommonJS ones reached by
 * import — one per line to the file named by $LOADED_MODULES_FILE. Test code only.
 */
import { register } from 'node:module';

register(
  `data:text/javascript,${encodeURIComponent(`
    import { appendFileSync } from 'node:fs';
    let file;
    export function initialize(data) { file = data.file; }
    export async function load(url, context, nextLoad) {
      const loaded = await nextLoad(url, context);
      appendFileSync(file, url + '\\n');
      return loaded;
    }
  `)}`,
  { data: { file: process.env.LOADED_MODULES_FILE } },
);
