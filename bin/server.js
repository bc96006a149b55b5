#!/usr/bin/env node
'use strict';
require('./compile-cache');
require('./register-paths');
require('../dist/apps/server/src/main');
