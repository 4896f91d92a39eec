/**
 * Splits a Kubernetes list document (`{"kind":…,"metadata":{…},"items":[…]}`) arriving in chunks of
 * bytes into its items, one parsed value at a time, so a list never has to be held whole: memory is
 * bounded by the largest single item plus a chunk, whatever the number of items.
 *
 * Only the document's outline (the top-level object and the `items` array) is tokenised here. Each
 * value inside it is delimited by tracking strings (with backslash escapes) and bracket depth, then
 * validated by JSON.parse on its own bytes, so any malformed JSON still fails. Every byte that
 * matters for structure is ASCII and never occurs inside a multi-byte UTF-8 sequence, so chunks may
 * split characters anywhere: values are decoded only once all their bytes are joined.
 */

export class ListFormatError extends Error {
  override readonly name = 'ListFormatError';
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

function indexOrEnd(chunk: Buffer, byte: number, from: number): number {
  const found = chunk.indexOf(byte, from);
  return found < 0 ? chunk.length : found;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Where the scanner is in the document's outline. */
const enum At {
  DocumentStart,
  ObjectStart, // after `{`: a key or `}`
  Key, // inside a top-level key
  AfterKey, // expecting `:`
  ValueStart, // expecting a top-level member's value
  Value, // inside a top-level member's value (not items)
  AfterValue, // expecting `,` or `}`
  NextKey, // after `,`: a key
  ItemsStart, // after `items: [`: an item or `]`
  Item, // inside an item
  AfterItem, // expecting `,` or `]`
  NextItem, // after `,` in items: an item
  DocumentEnd,
}

/** How the value being delimited ends. */
const enum Shape {
  String, // at the closing quote
  Nested, // when its brackets/braces balance
  Scalar, // number, true, false, null: at the next delimiter
}

export interface ScannedList {
  /** `metadata.continue` of the list: the token for the next page ('' or absent: last page). */
  readonly continueToken: string | undefined;
}

export class ListScanner {
  private at = At.DocumentStart;
  /** Bytes consumed before the current chunk, and where the last outline byte was: for errors. */
  private offset = 0;
  private position = 0;

  // The value being delimited.
  private shape = Shape.Scalar;
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** Earlier chunks' part of the current key or value. */
  private parts: Buffer[] = [];
  /** Next quote/backslash positions in the current chunk (its length: none left). */
  private nextQuote = -1;
  private nextBackslash = -1;

  private key = '';
  private seenItems = false;
  private metadata: unknown;

  /** @param onItem receives each item of `items`, parsed, in order. */
  constructor(private readonly onItem: (item: unknown) => void) {}

  /**
   * Feeds the next bytes of the document; throws ListFormatError as soon as it is malformed. The
   * bytes must not be modified afterwards (an unfinished value keeps a view of them).
   */
  push(bytes: Uint8Array): void {
    const chunk = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const n = chunk.length;
    this.nextQuote = -1;
    this.nextBackslash = -1;
    let i = 0;
    /** Start of the key or value being collected, when it started in this chunk. */
    let start = 0;
    while (i < n) {
      switch (this.at) {
        case At.Key:
        case At.Value:
        case At.Item: {
          const end = this.at === At.Key ? this.stringEnd(chunk, i) : this.valueEnd(chunk, i);
          if (end < 0) {
            this.parts.push(chunk.subarray(start, n));
            i = n;
            break;
          }
          const text = this.collected(chunk, start, end);
          i = end;
          if (this.at === At.Key) this.keyDone(text);
          else if (this.at === At.Value) this.valueDone(text);
          else this.itemDone(text);
          break;
        }
        default: {
          const c = chunk[i] as number;
          if (isSpace(c)) {
            i++;
            break;
          }
          this.position = this.offset + i;
          this.structural(c);
          // A value includes the byte that starts it; a key's text starts after its opening quote.
          if (this.inValue()) start = i;
          else start = ++i;
          break;
        }
      }
    }
    this.offset += n;
  }

  /** The end of the document: throws ListFormatError unless it was complete. */
  end(): ScannedList {
    if (this.at !== At.DocumentEnd) {
      throw new ListFormatError(
        this.offset === 0 ? 'malformed list JSON: empty body' : `malformed list JSON: body ended after ${this.offset} bytes, before the list was complete`,
      );
    }
    // Every list the API server sends has items (`[]` when empty): an object without is not a list,
    // and taking it for an empty one would look like every workload was deleted.
    if (!this.seenItems) throw new ListFormatError('malformed list JSON: no "items"');
    const token = (this.metadata as { continue?: unknown } | null | undefined)?.continue;
    if (token !== undefined && typeof token !== 'string') throw new ListFormatError('malformed list JSON: metadata.continue is not a string');
    return { continueToken: token || undefined };
  }

  private inValue(): boolean {
    return this.at === At.Value || this.at === At.Item;
  }

  /** One byte of the outline (not inside a key or value). */
  private structural(c: number): void {
    switch (this.at) {
      case At.DocumentStart:
        if (c === OPEN_BRACE) return void (this.at = At.ObjectStart);
        return this.unexpected(c, 'the list object');
      case At.ObjectStart:
      case At.NextKey:
        if (c === QUOTE) return this.begin(At.Key, Shape.String);
        if (c === CLOSE_BRACE && this.at === At.ObjectStart) return void (this.at = At.DocumentEnd);
        return this.unexpected(c, 'a key');
      case At.AfterKey:
        if (c === COLON) return void (this.at = At.ValueStart);
        return this.unexpected(c, '":"');
      case At.ValueStart:
        if (this.key === 'items' && c === OPEN_BRACKET) {
          this.itemsFound();
          return void (this.at = At.ItemsStart);
        }
        return this.beginValue(At.Value, c);
      case At.AfterValue:
        if (c === COMMA) return void (this.at = At.NextKey);
        if (c === CLOSE_BRACE) return void (this.at = At.DocumentEnd);
        return this.unexpected(c, '"," or "}"');
      case At.ItemsStart:
        if (c === CLOSE_BRACKET) return void (this.at = At.AfterValue);
        return this.beginValue(At.Item, c);
      case At.NextItem:
        return this.beginValue(At.Item, c);
      case At.AfterItem:
        if (c === COMMA) return void (this.at = At.NextItem);
        if (c === CLOSE_BRACKET) return void (this.at = At.AfterValue);
        return this.unexpected(c, '"," or "]"');
      case At.DocumentEnd:
        return this.unexpected(c, 'the end of the list');
      default:
        throw new Error(`list scanner: no outline byte expected in state ${this.at}`);
    }
  }

  /** A value starts with byte c (not consumed: valueEnd reads it). */
  private beginValue(at: At.Value | At.Item, c: number): void {
    if (c === CLOSE_BRACE || c === CLOSE_BRACKET || c === COMMA || c === COLON) this.unexpected(c, 'a value');
    this.begin(at, c === QUOTE ? Shape.String : c === OPEN_BRACE || c === OPEN_BRACKET ? Shape.Nested : Shape.Scalar);
  }

  private begin(at: At, shape: Shape): void {
    this.at = at;
    this.shape = shape;
    this.depth = 0;
    // A key starts after its opening quote; a value starts at its first byte.
    this.inString = at === At.Key;
    this.escaped = false;
    this.parts = [];
  }

  /** Index just after the closing quote of the string being read, or -1 if not in this chunk. */
  private stringEnd(chunk: Buffer, from: number): number {
    const n = chunk.length;
    let i = from;
    while (i < n) {
      if (this.escaped) {
        this.escaped = false;
        i++;
        continue;
      }
      // memchr-speed jumps over the (typically long) plain runs of strings. Positions found stay
      // valid until passed, so a chunk is searched once for each byte, however many strings it has.
      if (this.nextQuote < i) this.nextQuote = indexOrEnd(chunk, QUOTE, i);
      if (this.nextBackslash < i) this.nextBackslash = indexOrEnd(chunk, BACKSLASH, i);
      if (this.nextBackslash < this.nextQuote) {
        this.escaped = true;
        i = this.nextBackslash + 1;
        continue;
      }
      if (this.nextQuote === n) return -1;
      this.inString = false;
      return this.nextQuote + 1;
    }
    return -1;
  }

  /** Index just after the value being read, or -1 if it does not end in this chunk. */
  private valueEnd(chunk: Buffer, from: number): number {
    const n = chunk.length;
    let i = from;
    if (this.shape === Shape.Scalar) {
      for (; i < n; i++) {
        const c = chunk[i] as number;
        if (c === COMMA || c === CLOSE_BRACE || c === CLOSE_BRACKET || isSpace(c)) return i;
      }
      return -1;
    }
    while (i < n) {
      if (this.inString) {
        const end = this.stringEnd(chunk, i);
        if (end < 0) return -1;
        i = end;
        if (this.depth === 0) return i; // a string value
        continue;
      }
      const c = chunk[i] as number;
      i++;
      if (c === QUOTE) this.inString = true;
      else if (c === OPEN_BRACE || c === OPEN_BRACKET) this.depth++;
      else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        // Mismatched pairs (`[}`) still balance the count; JSON.parse rejects them afterwards.
        if (--this.depth === 0) return i;
      }
    }
    return -1;
  }

  /** The UTF-8 text of a key or value: earlier chunks' parts plus chunk[start, end). */
  private collected(chunk: Buffer, start: number, end: number): string {
    if (this.parts.length === 0) return chunk.toString('utf8', start, end);
    this.parts.push(chunk.subarray(start, end));
    const text = Buffer.concat(this.parts).toString('utf8');
    this.parts = [];
    return text;
  }

  private keyDone(text: string): void {
    // text ends with the closing quote; escapes in keys are legal, so let JSON decode them.
    this.key = this.parse(`"${text}`, 'a key') as string;
    this.at = At.AfterKey;
  }

  private valueDone(text: string): void {
    const value = this.parse(text, JSON.stringify(this.key.slice(0, 40)));
    if (this.key === 'metadata') this.metadata = value;
    else if (this.key === 'items') {
      // `"items": null` is how some servers say "none"; anything else is not a list.
      if (value !== null) throw new ListFormatError('malformed list JSON: "items" is not an array');
      this.itemsFound();
    }
    this.at = At.AfterValue;
  }

  /** JSON.parse would keep the last of two `items`; a list has one, anything else is suspect. */
  private itemsFound(): void {
    if (this.seenItems) throw new ListFormatError('malformed list JSON: "items" appears twice');
    this.seenItems = true;
  }

  private itemDone(text: string): void {
    this.at = At.AfterItem;
    this.onItem(this.parse(text, 'an item'));
  }

  private parse(text: string, what: string): unknown {
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new ListFormatError(`malformed list JSON in ${what}: ${(error as Error).message}`);
    }
  }

  private unexpected(c: number, expected: string): never {
    const shown = c >= 0x20 && c < 0x7f ? JSON.stringify(String.fromCharCode(c)) : `byte 0x${c.toString(16)}`;
    throw new ListFormatError(`malformed list JSON: ${shown} at byte ${this.position} where ${expected} was expected`);
  }
}
