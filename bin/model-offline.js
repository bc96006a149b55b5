#!/usr/bin/env node
'use strict';
require('./register-paths');
require('../dist/libs/model-offline/src/main');
