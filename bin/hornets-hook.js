#!/usr/bin/env node
// The no-daemon hook entry under its earlier name: the work is in hornets-hook.cjs (CommonJS, so
// it starts without the ESM loader); bin/hornets-hook calls that one directly.
import './hornets-hook.cjs';
