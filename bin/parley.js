#!/usr/bin/env node
'use strict';
require('./register-paths');
require('../dist/apps/cli/src/main');
