import type { Client } from '../storage/index.js';
import type { Logger } from '../system/logger.js';

/** What every use case receives; built once, in src/composition.ts. */
export interface OperationDeps {
  client: Client;
  logger: Logger;
  clock: () => Date;
  dataDir: string;
}
