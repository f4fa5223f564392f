import { fromPlainAs, parseDocuments, type VM } from '../api/index.js';
import { invalidArgument, type FieldProblem } from '../errors.js';
import type { CreateVMOptions } from './create-vm.js';

type Plain = Record<string, unknown>;

/**
 * Reads a `--config` manifest the way Ignite's documented VM configs are written: often without
 * `metadata` or `spec.image`, which then come from `--name` and the image argument. The flags are
 * written over the manifest first and the result is validated after, so a field is reported
 * missing (by its path) only when neither gave it.
 *
 * Only fields a flag replaces are written here; the flags that add to a manifest's lists (ports,
 * files, labels) are merged by `buildVM`. An image argument fills a manifest without one; when
 * both give one, `buildVM` decides (they must agree).
 */
export function decodeVMConfig(text: string, source: string, flags: CreateVMOptions): VM {
  const docs = parseDocuments(text, source);
  if (docs.length !== 1)
    throw invalidArgument(`--config ${source}: expected one VM, found ${docs.length} objects`);
  const doc = docs[0];
  if (!isPlain(doc)) return fromPlainAs('VM', doc, { source, defaults: false });

  const metadata = objectAt(doc, 'metadata');
  if (flags.name !== undefined) metadata['name'] = flags.name;
  const spec = objectAt(doc, 'spec');
  if (flags.image !== undefined && !hasImageRef(spec)) {
    spec['image'] = {
      ociClaim: { ...objectAt(objectAt(spec, 'image'), 'ociClaim'), ref: flags.image },
    };
  }
  if (flags.cpus !== undefined) spec['cpus'] = flags.cpus;
  if (flags.memory !== undefined) spec['memory'] = flags.memory.toString();
  if (flags.diskSize !== undefined) spec['diskSize'] = flags.diskSize.toString();
  if (flags.ssh !== undefined) spec['ssh'] = flags.ssh;
  if (flags.kernelImage !== undefined || flags.kernelArgs !== undefined) {
    const kernel = objectAt(spec, 'kernel');
    if (flags.kernelImage !== undefined)
      kernel['ociClaim'] = { ...objectAt(kernel, 'ociClaim'), ref: flags.kernelImage };
    if (flags.kernelArgs !== undefined) kernel['cmdLine'] = flags.kernelArgs;
    // A kernel without a ref takes the default one, which buildVM fills in.
    if (!isPlain(kernel['ociClaim'])) delete spec['kernel'];
  }
  if (flags.networkMode !== undefined) objectAt(spec, 'network')['mode'] = flags.networkMode;

  if (!hasImageRef(spec)) {
    const problems: FieldProblem[] = [
      {
        path: '.spec.image.ociClaim.ref',
        message: 'required: give the image as the argument, or in the manifest',
      },
    ];
    // The other problems of the manifest are reported with it, in one go.
    delete spec['image'];
    try {
      fromPlainAs(
        'VM',
        { ...doc, spec: { ...spec, image: { ociClaim: { ref: 'x' } } } },
        { source },
      );
    } catch (err) {
      const more = (err as { problems?: FieldProblem[] }).problems ?? [];
      problems.push(...more);
    }
    const lines = problems.map((p) => `  ${p.path}: ${p.message}`).join('\n');
    const n = problems.length;
    throw invalidArgument(`manifest ${source}: ${n} problem${n === 1 ? '' : 's'}\n${lines}`, {
      problems,
    });
  }
  return fromPlainAs('VM', doc, { source, defaults: false });
}

function isPlain(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The object at `key`, created when absent; a value of another type is left for validation. */
function objectAt(parent: Plain, key: string): Plain {
  const v = parent[key];
  if (isPlain(v)) return v;
  if (v !== undefined && v !== null) return {};
  const created: Plain = {};
  parent[key] = created;
  return created;
}

function hasImageRef(spec: Plain): boolean {
  const image = spec['image'];
  if (!isPlain(image)) return image !== undefined && image !== null;
  const claim = image['ociClaim'];
  if (!isPlain(claim)) return claim !== undefined && claim !== null;
  return claim['ref'] !== undefined && claim['ref'] !== null;
}
