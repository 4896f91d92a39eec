/**
 * Preloaded into a `check` process (node --import) by tests that bound its memory: writes its peak
 * resident set size (VmHWM, kB) to the file named by $PEAK_RSS_FILE as it exits. Test code only.
 */
import { readFileSync, writeFileSync } from 'node:fs';

process.on('exit', () => {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  writeFileSync(process.env.PEAK_RSS_FILE, match ? match[1] : '0');
});
