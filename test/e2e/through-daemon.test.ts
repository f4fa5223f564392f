// The lifecycle, image and gitops e2e cases once more, with every `ignite` command going through
// an `ignited` each case starts on its data dir (IGNITE_HOST): same commands, same output, same
// exit codes. The switch is set before the cases are loaded, so they read it as they register.
import { driveThroughDaemon } from '../helpers/cli-mode.js';

driveThroughDaemon();
await import('./images.test.js');
await import('./vm-lifecycle.test.js');
await import('./gitops.test.js');
