/**
 * The text of a manifest file's bytes. UTF-8, with or without a byte order mark; UTF-16 with a BOM
 * (what PowerShell's `>` writes) decoded; anything else holding NUL bytes (UTF-16 or UTF-32 without
 * a BOM, a binary) refused: read as UTF-8 it would parse as no object at all, and pass unchecked.
 * Pure.
 */

/** Why bytes are not a manifest's text. */
export class EncodingError extends Error {
  override readonly name = 'EncodingError';
}

export function decodeManifest(bytes: Buffer): string {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return utf8(bytes.subarray(3));
  if (bytes[0] === 0xff && bytes[1] === 0xfe && !(bytes[2] === 0 && bytes[3] === 0)) return utf16(bytes.subarray(2), 'le');
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return utf16(bytes.subarray(2), 'be');
  return utf8(bytes);
}

function utf8(bytes: Buffer): string {
  if (bytes.includes(0)) throw new EncodingError('holds NUL bytes: not UTF-8 text (UTF-16 or UTF-32 without a byte order mark, or a binary file)');
  return bytes.toString('utf8');
}

function utf16(bytes: Buffer, order: 'le' | 'be'): string {
  if (bytes.length % 2 !== 0) throw new EncodingError(`is not valid UTF-16 (an odd number of bytes after the byte order mark)`);
  // swap16 works in place: a copy, so that the caller's bytes stay as read.
  const text = (order === 'le' ? bytes : Buffer.from(bytes).swap16()).toString('utf16le');
  if (text.includes('\0')) throw new EncodingError('holds NUL characters: not a text file');
  return text;
}
