export {
  MAX_CONFIG_BYTES,
  MEDIA_TYPES,
  checkDescriptor,
  pickPlatform,
  sha256,
  type Descriptor,
  type ImageManifest,
} from './oci-manifest.js';
export * from './registry-client.js';
export { parseChallenge, type Credentials } from './registry-auth.js';
export * from './layer-unpacker.js';
export * from './layer-stream.js';
export * from './kernel-extract.js';
export * from './pull.js';
export * from './local-source.js';
export * from './import-limits.js';
export * from './import-workspace.js';
export * from './fs-import-workspace.js';
export * from './ext4/index.js';
export * from './layer-tree.js';
export * from './kernel-tree.js';
export * from './kernel-pull.js';
export * from './kernel-modules.js';
