#!/usr/bin/env node
'use strict';
require('./register-paths');
require('../dist/libs/refunds/src/main');
