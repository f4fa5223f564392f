// Child process for the storage concurrency test: creates N VMs named <prefix>-<i>.
import { AppError } from '../../src/errors.js';
import { newFsClient } from '../../src/storage/index.js';
import { vm } from './objects.js';

const [dir = '', prefix = 'p', count = '10', flag] = process.argv.slice(2);
const client = newFsClient(dir);
let created = 0;
for (let i = 0; i < Number(count); i++) {
  try {
    await client.vms.create(vm(`${prefix}-${i}`));
    created++;
  } catch (err) {
    if (!(flag === '--tolerate-exists' && AppError.is(err, 'AlreadyExists'))) throw err;
  }
}
process.stdout.write(`${created}\n`);
