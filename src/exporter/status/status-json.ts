/**
 * Writes the status JSON (fields: status-model.ts) from a StatusIndex. The part that depends on
 * the time of the request (`generatedAt`, the collection's `ageSeconds`) is a small head written per
 * request; the rest is written once per snapshot and shared. Per container it writes its workload
 * and name only: the image, its reason and check time are written once per image, so the answer
 * is smaller than the series /metrics writes for the same containers.
 */
import { yieldToEventLoop } from '../../utils/yield.js';
import { ChunkedText } from '../../utils/chunked-text.js';
import { seconds, type IndexedImage, type StatusIndex } from './status-model.js';

const str = JSON.stringify;

/** The start of the answer, as of `now` (ms since epoch): up to the collection's `ageSeconds`. */
export function statusJsonHead(index: StatusIndex, now: number): string {
  const generatedAt = str(new Date(now).toISOString());
  if (index.at === undefined) return `{"generatedAt":${generatedAt},"lastCollection":null,`;
  return `{"generatedAt":${generatedAt},"lastCollection":{"finishedAt":${str(new Date(index.at).toISOString())},"ageSeconds":${seconds(now - index.at)},`;
}

function imageHead(image: IndexedImage, at: number): string {
  const checked = image.checkedAt;
  return (
    `{"image":${str(image.image)},"registry":${str(image.registry)},"reason":${str(image.reason)}` +
    `,"checkedAt":${checked === undefined ? 'null' : str(new Date(checked).toISOString())}` +
    `,"ageSeconds":${checked === undefined ? 'null' : seconds(at - checked)}` +
    `,"lastProven":${str(image.lastProven)},"missingPlatforms":${str(image.missingPlatforms)}` +
    `,"count":${image.rows.length},"containers":[`
  );
}

/** The rest of the answer, after statusJsonHead(): the same for every request about this index. */
export async function statusJsonBody(index: StatusIndex): Promise<Buffer[]> {
  const out = new ChunkedText();
  if (index.at !== undefined) {
    out.write(`"collectionSeconds":${str(index.collectionSeconds)},"pendingChecks":${index.pendingChecks},"listsDown":${str(index.listsDown)}},`);
  }
  out.write(`"totals":${str(index.totals)},"groups":[`);
  const at = index.at ?? 0;
  for (const [g, group] of index.groups.entries()) {
    out.write(`${g > 0 ? ',' : ''}{"id":${str(group.id)},"title":${str(group.title)},"advice":${str(group.advice)},"count":${group.count},"images":[`);
    for (const [i, image] of group.images.entries()) {
      out.write(`${i > 0 ? ',' : ''}${imageHead(image, at)}`);
      for (const [r, row] of image.rows.entries()) {
        const { workload, container } = row;
        out.write(
          `${r > 0 ? ',' : ''}{"namespace":${str(workload.namespace)},"kind":${str(workload.kind)},"name":${str(workload.name)},` +
            `"container":${str(container.name)},"init":${container.init},"volume":${container.volume === true}}`,
        );
        if (out.item()) await yieldToEventLoop();
      }
      out.write(']}');
    }
    out.write(']}');
  }
  out.write(']}\n');
  return out.end();
}
