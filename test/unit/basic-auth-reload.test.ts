/** Verified pairs across a reload of the web config (src/exporter/web/basic-auth.ts carriedOver): kept while the user's hash is the same, never after it changed. */
import bcrypt from 'bcryptjs';
import { expect, test } from 'vitest';
import { BasicAuth } from '../../src/exporter/web/basic-auth.js';

const OLD = bcrypt.hashSync('old', 4);
const NEW = bcrypt.hashSync('new', 4);

function counted() {
  let comparisons = 0;
  const compare = async (password: string, hash: string) => {
    comparisons++;
    return bcrypt.compareSync(password, hash);
  };
  return { compare, count: () => comparisons };
}

test('a pair stays verified over a reload that keeps its user, and is compared again once the hash changed or the user is gone', async () => {
  const { compare, count } = counted();
  const first = new BasicAuth(new Map([['prometheus', OLD]]), { compare });
  expect(await first.verify({ user: 'prometheus', password: 'old' })).toBe('ok');
  expect(count()).toBe(1);

  const same = new BasicAuth(new Map([['prometheus', OLD], ['grafana', NEW]]), { compare }).carriedOver(first);
  expect(await same.verify({ user: 'prometheus', password: 'old' })).toBe('ok');
  expect(count()).toBe(1);

  // The password was changed: the old one must be compared (and refused), never taken from the cache.
  const changed = new BasicAuth(new Map([['prometheus', NEW]]), { compare }).carriedOver(same);
  expect(await changed.verify({ user: 'prometheus', password: 'old' })).toBe('denied');
  expect(count()).toBe(2);

  const removed = new BasicAuth(new Map([['grafana', NEW]]), { compare }).carriedOver(same);
  expect(removed.cacheSize).toBe(0);
  expect(await removed.verify({ user: 'prometheus', password: 'old' })).toBe('denied');
});
