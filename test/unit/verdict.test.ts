/**
 * decideVerdict: the one decision of when "absent" may be said, as a table of answers → verdict.
 * Hosts: `m` is a mirror, `o` the original (authoritative). Identities: `c1`, `c2` credentials in
 * kubelet order, `anon` anonymous. `!` after a status: the answer came without the credentials it
 * should have carried (the registry's /v2/ failed).
 */
import { describe, expect, test } from 'vitest';
import type { CheckStatus } from '../../src/registry/status.js';
import { ANONYMOUS, decideVerdict, type Attempt } from '../../src/registry/verdict.js';

function attempt(spec: string): Attempt {
  const [where, identity, answer] = spec.split(' ') as [string, string, string];
  const untrusted = answer.endsWith('!');
  const status = answer.replace('!', '') as CheckStatus;
  return {
    host: where === 'm' ? 'mirror.example' : where === 'm2' ? 'mirror2.example' : 'origin.example',
    authoritative: where === 'o',
    identity: identity === 'anon' ? ANONYMOUS : `secret:ns/${identity}`,
    status,
    detail: `${where}/${identity}: ${status}`,
    asIdentity: !untrusted,
  };
}

const table: Array<[string, string[], CheckStatus, string?]> = [
  // Simple cases.
  ['anonymous present', ['o anon present'], 'present'],
  ['anonymous 404, no credentials exist', ['o anon absent'], 'absent'],
  ['anonymous registry down', ['o anon registry_unavailable'], 'registry_unavailable'],
  // Several credentials (kubelet order).
  ['first credential 404, second sees it', ['o c1 absent', 'o c2 present'], 'present'],
  ['every credential says 404', ['o c1 absent', 'o c2 absent'], 'absent'],
  ['one says 404, the other times out: not proven', ['o c1 absent', 'o c2 registry_unavailable'], 'registry_unavailable'],
  ['one says 404, the other is rate limited', ['o c1 absent', 'o c2 rate_limited'], 'rate_limited'],
  ['rejected credential, then a 404 from an accepted one', ['o c1 auth_failure', 'o c2 absent'], 'absent'],
  ['rejected credentials, then anonymous present (public image)', ['o c1 auth_failure', 'o anon present'], 'present'],
  ['rejected credentials, anonymous 404: only "not visible"', ['o c1 auth_failure', 'o anon absent'], 'auth_failure', 'o/c1'],
  ['denied credentials, anonymous 404', ['o c1 access_denied', 'o anon absent'], 'access_denied'],
  // The ping failed and the credentials could not be sent.
  ['404 to a request that went without the credentials', ['o c1 absent!', 'o anon absent'], 'registry_unavailable', 'without the credentials'],
  ['…while another credential says 404 properly', ['o c1 absent!', 'o c2 absent'], 'registry_unavailable'],
  ['…but present proves itself', ['o c1 present!'], 'present'],
  // Mirrors: the original has the last word.
  ['mirror 404 (pull-through cache, upstream down), original present', ['m anon absent', 'o anon present'], 'present'],
  ['mirror 404, original unreachable', ['m anon absent', 'o anon registry_unavailable'], 'registry_unavailable', 'mirrors'],
  ['mirror 404, original rate limited', ['m anon absent', 'o anon rate_limited'], 'rate_limited'],
  ['mirror 404, original 404', ['m anon absent', 'o anon absent'], 'absent'],
  ['mirror down, original 404', ['m anon registry_unavailable', 'o anon absent'], 'absent'],
  ['mirror present', ['m anon present'], 'present', 'mirror'],
  ['two mirrors 404, original rejects', ['m anon absent', 'm2 anon absent', 'o c1 auth_failure', 'o anon absent'], 'auth_failure'],
];

describe('decideVerdict', () => {
  test.each(table)('%s', (_name, specs, expected, detailPart) => {
    const verdict = decideVerdict({ attempts: specs.map(attempt) });
    expect(verdict.status).toBe(expected);
    if (detailPart) expect(verdict.detail).toContain(detailPart);
  });

  test('absent only under the rule: a trusted 404 at the authoritative host and nothing standing in its way', () => {
    // Exhaustive over two credentials at the original and every status: absent ⇔ (some trusted
    // absent) ∧ (every other answer is a trusted absent or a rejection).
    const statuses: string[] = ['present', 'absent', 'absent!', 'auth_failure', 'access_denied', 'rate_limited', 'registry_unavailable', 'unknown_error'];
    for (const a of statuses) {
      for (const b of statuses) {
        const verdict = decideVerdict({ attempts: [attempt(`o c1 ${a}`), attempt(`o c2 ${b}`)] });
        const trusted = [a, b].filter((s) => s === 'absent').length;
        const harmless = [a, b].every((s) => s === 'absent' || s === 'auth_failure' || s === 'access_denied');
        const expected = a === 'present' || b === 'present' ? 'present' : trusted > 0 && harmless ? 'absent' : undefined;
        if (expected) expect(verdict.status, `${a} + ${b}`).toBe(expected);
        else expect(['present', 'absent'], `${a} + ${b}`).not.toContain(verdict.status);
      }
    }
  });

  test('an unreadable pull secret: only present counts', () => {
    expect(decideVerdict({ attempts: [attempt('o anon absent')], credentialProblem: 'pull secret ns/s not found' })).toMatchObject({
      status: 'auth_failure',
      detail: expect.stringContaining('pull secret ns/s not found'),
    });
    expect(decideVerdict({ attempts: [attempt('o anon present')], credentialProblem: 'x' }).status).toBe('present');
  });

  test('a registry the node refuses (blocked): its mirrors may prove presence, nothing else; with no mirror, nobody is asked', () => {
    const blocked = 'registry origin.example is blocked in /etc/containers/registries.conf';
    expect(decideVerdict({ attempts: [], blocked })).toEqual({ status: 'blocked', detail: blocked });
    expect(decideVerdict({ attempts: [attempt('m anon present')], blocked }).status).toBe('present');
    for (const answer of ['absent', 'registry_unavailable', 'rate_limited', 'auth_failure']) {
      const verdict = decideVerdict({ attempts: [attempt(`m anon ${answer}`)], blocked });
      expect(verdict.status, answer).toBe('blocked');
      // The registry's refusal is the reason; what the mirror said is told, never as proof of anything.
      expect(verdict.detail, answer).toBe(`${blocked}; mirrors: mirror.example: m/anon: ${answer} (${answer})`);
    }
  });
});
