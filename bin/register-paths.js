'use strict';
// Resolves the `@parley/<lib>` path aliases to the compiled libraries in dist/ at run time.
const path = require('node:path');
require('tsconfig-paths').register({
  baseUrl: path.join(__dirname, '..', 'dist'),
  paths: { '@parley/contracts/*': ['libs/contracts/src/*'], '@parley/*': ['libs/*/src'] },
  addMatchAll: false,
});
