export * from './registry-client.js';
export * from './layer-unpacker.js';
export * from './layer-stream.js';
export * from './ext4-builder.js';
export * from './kernel-extract.js';
export * from './pull.js';
export * from './local-source.js';
