/**
 * Splits a stream of text into lines as it arrives: `push` takes the next chunk and returns the
 * lines it completed (without their newline); a line cut between chunks is held until its end
 * comes. Blank lines (a keep-alive) are dropped.
 */
export class LineSplitter {
  private rest = '';

  push(chunk: string): string[] {
    const parts = (this.rest + chunk).split('\n');
    this.rest = parts.pop() ?? '';
    return parts.map((l) => l.replace(/\r$/, '')).filter((l) => l.trim() !== '');
  }

  /** What was left without a newline when the stream ended. */
  end(): string[] {
    const last = this.rest.trim();
    this.rest = '';
    return last === '' ? [] : [last];
  }
}
