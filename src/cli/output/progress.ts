import cliProgress from 'cli-progress';
import type { PullProgress } from '../../image/index.js';

/**
 * Progress bars for pulls on a terminal: bytes per layer, then the later phases as text. Off a
 * terminal it prints nothing, so scripts and logs stay clean.
 */
export function pullProgress(
  stream: NodeJS.WritableStream & { isTTY?: boolean },
  label: string,
): { progress?: PullProgress; stop(): void } {
  if (stream.isTTY !== true) return { stop: () => undefined };
  const multi = new cliProgress.MultiBar(
    {
      stream: stream,
      format: ' {name} [{bar}] {percentage}% {value}/{total} bytes',
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<string, cliProgress.SingleBar>();
  let stopped = false;
  const stop = () => {
    if (!stopped) multi.stop();
    stopped = true;
  };
  return {
    progress: {
      layer: (digest, total) =>
        bars.set(digest, multi.create(total, 0, { name: digest.slice(7, 19) })),
      bytes: (digest, n) => bars.get(digest)?.increment(n),
      phase: (name) => {
        if (name === 'done') return stop();
        multi.log(`${label}: ${name}\n`);
      },
    },
    stop,
  };
}
