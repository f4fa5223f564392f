import { stringify } from 'yaml';
import { decode, fromPlain, toPlain, type APIObject, type DecodeOptions } from '../api/index.js';

export type Format = 'json' | 'yaml';

/**
 * Turns API objects into bytes and back. Output is stable: keys in schema order, two-space JSON
 * with a final newline, so the same object always gives the same bytes.
 */
export class Serializer {
  encode(obj: APIObject, format: Format = 'json'): string {
    const plain = toPlain(obj);
    return format === 'json'
      ? `${JSON.stringify(plain, null, 2)}\n`
      : stringify(plain, { lineWidth: 0 });
  }

  decode(data: Buffer | string, options: DecodeOptions = {}): APIObject {
    const text = typeof data === 'string' ? data : data.toString('utf8');
    // What ignite writes is plain JSON, read far faster by JSON.parse than as YAML; anything else
    // (trailing commas, YAML written by hand) takes the full decoder, with its error messages.
    if (text.trimStart().startsWith('{')) {
      let plain: unknown;
      try {
        plain = JSON.parse(text);
      } catch {
        return decode(text, options);
      }
      return fromPlain(plain, options);
    }
    return decode(text, options);
  }
}
