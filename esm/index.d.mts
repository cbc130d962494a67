export * from '../dist/index.js';
import * as hashlog from '../dist/index.js';
export default hashlog;
