export { Ext4Writer, type Ext4WriterOptions } from './writer.js';
export type { WrittenFilesystem } from './finalize.js';
