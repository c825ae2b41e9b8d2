#!/usr/bin/env node
// First of all: a Node older than the engines of package.json exits 2 with one line (node-version.js).
import {exitOnUnsupportedNode} from './node-version.js'

exitOnUnsupportedNode()
const {execute} = await import('@oclif/core')
await execute({development: true, dir: import.meta.url})
