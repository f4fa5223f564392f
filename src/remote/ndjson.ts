import { internal } from '../errors.js';

/**
 * The values of a JSON-lines stream, one per line, as they arrive. Blank lines are skipped; a line
 * that is not JSON ends the stream with an error naming it.
 */
export async function* ndjsonLines(stream: AsyncIterable<unknown>): AsyncGenerator<unknown> {
  let rest = '';
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    rest +=
      typeof chunk === 'string' ? chunk : decoder.decode(chunk as Uint8Array, { stream: true });
    let nl = rest.indexOf('\n');
    while (nl >= 0) {
      const line = rest.slice(0, nl).trim();
      rest = rest.slice(nl + 1);
      if (line !== '') yield parseLine(line);
      nl = rest.indexOf('\n');
    }
  }
  const last = (rest + decoder.decode()).trim();
  if (last !== '') yield parseLine(last);
}

function parseLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch (err) {
    throw internal(`stream: a line is not JSON: ${line.slice(0, 120)}`, { cause: err });
  }
}
