import {
  API_VERSION,
  normalizeImageRef,
  Size,
  type StoredImage,
  type StoredKernel,
} from '../../src/api/index.js';
import type { Imports } from '../../src/operations/services.js';
import type { Client } from '../../src/storage/client.js';
import type { DataLayout } from '../../src/storage/layout.js';
import type { FakeRuntimeFiles } from './fake-runtime-files.js';

/**
 * Images and kernels "imported" without a registry: the first request for a reference stores the
 * object under its normalized name, as the registry import does, and returns it as the store
 * does (with its UID and name); a kernel gets its vmlinux (and, for a name in `withModules`, its
 * modules.tar) in FakeRuntimeFiles. Later requests
 * return the stored object. `fail` makes a reference fail.
 */
export class FakeImports implements Imports {
  readonly asked: { kind: 'image' | 'kernel'; ref: string }[] = [];
  readonly fail = new Map<string, Error>();
  /** Kernels (by normalized name) whose image carries `/lib/modules/<release>`. */
  readonly withModules = new Set<string>();
  /** The release the next imported kernel reports (undefined: the import could not read it). */
  kernelVersion: string | undefined = '6.1.0-fake';
  /** The unpacked size the next imported image reports. */
  imageSize = Size.parse('100MB');

  constructor(
    private readonly client: Client,
    private readonly layout: DataLayout,
    private readonly runtimeFiles: FakeRuntimeFiles,
  ) {}

  async image(ref: string): Promise<StoredImage> {
    this.asked.push({ kind: 'image', ref });
    const err = this.fail.get(ref);
    if (err !== undefined) throw err;
    const name = normalizeImageRef(ref);
    const existing = await this.client.images.findByName(name);
    if (existing !== undefined) return existing;
    return this.client.images.create({
      apiVersion: API_VERSION,
      kind: 'Image',
      metadata: { name },
      spec: { ociClaim: { ref: name } },
      status: { ociSource: { id: `sha256:${'1'.repeat(64)}`, size: this.imageSize } },
    });
  }

  async kernel(ref: string): Promise<StoredKernel> {
    this.asked.push({ kind: 'kernel', ref });
    const err = this.fail.get(ref);
    if (err !== undefined) throw err;
    const name = normalizeImageRef(ref);
    const existing = await this.client.kernels.findByName(name);
    if (existing !== undefined) return existing;
    const kernel = await this.client.kernels.create({
      apiVersion: API_VERSION,
      kind: 'Kernel',
      metadata: { name },
      spec: { ociClaim: { ref: name } },
      status: {
        ...(this.kernelVersion !== undefined ? { version: this.kernelVersion } : {}),
        ociSource: { id: `sha256:${'2'.repeat(64)}` },
      },
    });
    const files = this.layout.kernelFiles(kernel.metadata.uid);
    this.runtimeFiles.files.set(files.vmlinux, 1);
    if (this.withModules.has(name)) this.runtimeFiles.files.set(files.modules, 1);
    return kernel;
  }
}
