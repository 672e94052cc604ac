/** One of several processes logging to the same rotating file (test/integration/log-rotation.test.ts). */
import { createLogger } from '../../../src/log.js';

const [file, worker, count] = process.argv.slice(2);
const log = createLogger(file!, { rotation: { maxBytes: 128 * 1024, maxFiles: 20 } });
for (let i = 0; i < Number(count); i++) log.info({ w: Number(worker), i, pad: 'x'.repeat(40) }, 'concurrent line');
